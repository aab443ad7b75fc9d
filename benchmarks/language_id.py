"""Language identification on hand-labelled Tamil, Malayalam, Bengali, Chinese and English lines.

Measurement, not tuning. Two sets written by hand, independently (different sentences, different
topics), under benchmarks/data/language_id/, one JSON object a line:
``{"text", "language", "form": "native"|"romanized"|"mixed", "variant"?, "word_tags"?}``
(``variant`` "simplified"/"traditional" for zh; ``word_tags`` [[word, language], ...] for the
romanised and code-mixed lines, "univ" for language-independent tokens).

- ``tuning.jsonl`` (films, music, food, family, festivals) is the only set used to choose
  ``backend.language.identify.ENGLISH_ZIPF_THRESHOLD``: word-tag accuracy over a grid of
  thresholds, the best one wins, ties to the lower threshold;
- ``heldout.jsonl`` (sport, weather, travel, exams, phones, health, markets, work) is only
  measured, with the threshold the module holds.

Systems on the held-out set (accuracy of the whole-line language):
- ``py3langid``: py3langid 0.4.0 alone, all 142 classes;
- ``py3langid_corpus``: restricted to the corpus languages {ta, ml, bn, zh, en};
- ``py3langid_project``: restricted to a project's candidates {X, en}, X the Indic or Chinese
  language of the project (English lines are judged in each of the four projects);
- ``identify_project``: ``identify_language(text, [X, "en"])``, which adds the romanised
  heuristic.
Word tags (``tag_words(text, [X, "en"])``) on the lines with ``word_tags``: accuracy over the
tokens whose gold tag is a language (univ tokens left out), and the mean absolute difference
between the Code-Mixing Index of the predicted and of the gold tags.

Writes benchmarks/results/language_id.json and language_id.md.
Run: .venv/bin/python benchmarks/language_id.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "benchmarks" / "data" / "language_id"
CORPUS = ("ta", "ml", "bn", "zh", "en")
PROJECTS = ("ta", "ml", "bn", "zh")
GRID = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def load(name: str) -> list[dict]:
    with open(DATA / f"{name}.jsonl", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def group_of(row: dict) -> str:
    """'ta native', 'ta romanized', 'zh simplified', 'en', ..."""
    if row["language"] == "en":
        return "en"
    return f"{row['language']} {row.get('variant') or row['form']}"


def set_threshold(value: float) -> None:
    from backend.language import identify

    identify.ENGLISH_ZIPF_THRESHOLD = value
    identify._is_english.cache_clear()


def word_tags(rows: list[dict]) -> dict:
    """Word-tag accuracy per group over gold language tokens, CMI error, and the mistakes."""
    from backend.language.identify import WordTag, code_mixing_index, tag_words

    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    cmi_error: list[float] = []
    mistakes: list[list[str]] = []
    misaligned = []
    for row in rows:
        if "word_tags" not in row:
            continue
        predicted = tag_words(row["text"], [row["language"], "en"])
        gold = row["word_tags"]
        if [tag.word for tag in predicted] != [word for word, _ in gold]:
            misaligned.append(row["text"])
            continue
        group = group_of(row)
        for tag, (word, language) in zip(predicted, gold):
            if language == "univ":
                continue
            total[group] += 1
            right[group] += tag.language == language
            if tag.language != language:
                mistakes.append([word, language, tag.language])
        gold_cmi = code_mixing_index([WordTag(word, language, None) for word, language in gold])
        cmi_error.append(abs(code_mixing_index(predicted) - gold_cmi))
    per_group = {group: {"tokens": total[group], "accuracy": round(right[group] / total[group], 4)} for group in total}
    tokens = sum(total.values())
    return {
        "per_group": per_group,
        "tokens": tokens,
        "accuracy": round(sum(right.values()) / tokens, 4) if tokens else None,
        "cmi_mean_abs_error": round(sum(cmi_error) / len(cmi_error), 2) if cmi_error else None,
        "misaligned_lines": misaligned,
        "mistakes": mistakes,
    }


def line_accuracy(rows: list[dict]) -> dict:
    """Whole-line accuracy per group and system; the failures of identify_project."""
    from backend.language.identify import _base_identifier, _identifier, identify_language

    systems = ("py3langid", "py3langid_corpus", "py3langid_project", "identify_project")
    right = {system: defaultdict(int) for system in systems}
    total = {system: defaultdict(int) for system in systems}
    failures = []
    corpus = _identifier(frozenset(CORPUS))
    for row in rows:
        text, gold, group = row["text"], row["language"], group_of(row)
        decisions = {
            "py3langid": [_base_identifier().classify(text)[0]],
            "py3langid_corpus": [corpus.classify(text)[0]],
        }
        projects = PROJECTS if gold == "en" else (gold,)
        decisions["py3langid_project"] = [_identifier(frozenset((p, "en"))).classify(text)[0] for p in projects]
        outcomes = [identify_language(text, [p, "en"]) for p in projects]
        decisions["identify_project"] = [language for language, _ in outcomes]
        for project, (language, confidence) in zip(projects, outcomes):
            if language != gold:
                failures.append({"text": text, "gold": gold, "project": [project, "en"], "got": language,
                                 "confidence": round(confidence, 3) if confidence is not None else None})
        for system, languages in decisions.items():
            total[system][group] += len(languages)
            right[system][group] += sum(language == gold for language in languages)
    table = {
        group: {"decisions": {s: total[s][group] for s in systems}}
        | {s: round(right[s][group] / total[s][group], 4) for s in systems}
        for group in total["py3langid"]
    }
    overall = {s: round(sum(right[s].values()) / sum(total[s].values()), 4) for s in systems}
    return {"per_group": table, "overall": overall, "identify_project_failures": failures}


def romanized_outputs(rows: list[dict]) -> dict[str, dict[str, int]]:
    """What py3langid alone says on romanised lines: label counts per language."""
    from backend.language.identify import _base_identifier

    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row["form"] == "romanized":
            counts[row["language"]][_base_identifier().classify(row["text"])[0]] += 1
    return {language: dict(sorted(c.items(), key=lambda kv: -kv[1])) for language, c in counts.items()}


def tune(rows: list[dict], chosen_in_module: float) -> dict:
    from backend.language.identify import identify_language

    grid = []
    for value in GRID:
        set_threshold(value)
        tags = word_tags(rows)
        correct = total = 0
        for row in rows:
            projects = PROJECTS if row["language"] == "en" else (row["language"],)
            for project in projects:
                total += 1
                correct += identify_language(row["text"], [project, "en"])[0] == row["language"]
        grid.append({"threshold": value, "word_tag_accuracy": tags["accuracy"],
                     "line_accuracy_identify_project": round(correct / total, 4)})
    best = max(grid, key=lambda entry: (entry["word_tag_accuracy"], -entry["threshold"]))
    set_threshold(chosen_in_module)
    return {"grid": grid, "best_on_tuning": best["threshold"], "module_threshold": chosen_in_module,
            "module_matches_tuning": best["threshold"] == chosen_in_module}


def markdown(result: dict) -> str:
    names = {"py3langid": "py3langid (142)", "py3langid_corpus": "py3langid {ta,ml,bn,zh,en}",
             "py3langid_project": "py3langid {X,en}", "identify_project": "identify_language {X,en}"}
    lines = ["# Language identification (held-out set)", "",
             "| lines | n | " + " | ".join(names.values()) + " |",
             "|---|---|" + "---|" * len(names)]
    table = result["heldout"]["lines"]["per_group"]
    for group, row in table.items():
        n = row["decisions"]["py3langid"]
        lines.append(f"| {group} | {n} | " + " | ".join(f"{row[s]:.2f}" for s in names) + " |")
    overall = result["heldout"]["lines"]["overall"]
    lines.append("| **all** | | " + " | ".join(f"**{overall[s]:.2f}**" for s in names) + " |")
    tags = result["heldout"]["word_tags"]
    lines += ["", "| word tags `tag_words(text, [X, \"en\"])` | tokens | accuracy |", "|---|---|---|"]
    for group, row in tags["per_group"].items():
        lines.append(f"| {group} | {row['tokens']} | {row['accuracy']:.2f} |")
    lines.append(f"| **all** | {tags['tokens']} | **{tags['accuracy']:.2f}** |")
    tuning = result["tuning"]
    grid = ", ".join(f"{e['threshold']}: {e['word_tag_accuracy']:.3f}" for e in tuning["grid"])
    lines += [
        "",
        f"Held-out: {result['data']['heldout_lines']} lines written by hand (sport, weather, travel, exams, phones, "
        "health, markets, work); X is the project's language, English lines are judged in each of the four "
        "projects (n = 16 lines, 64 decisions in the two {X,en} columns). Code-Mixing Index, predicted vs gold tags: mean absolute error "
        f"{tags['cmi_mean_abs_error']} points. py3langid alone on romanised lines says: "
        + "; ".join(f"{lang}: {counts}" for lang, counts in result["heldout"]["py3langid_on_romanized"].items())
        + ".",
        "",
        (
            f"English-word threshold (wordfreq zipf) chosen on the tuning set only ({result['data']['tuning_lines']} "
            f"other lines: films, food, family): word-tag accuracy by threshold {grid}; best "
            f"{tuning['best_on_tuning']}, module uses {tuning['module_threshold']}."
        ),
        "",
        (
            f"py3langid {result['machine']['py3langid']}: {result['py3langid_model_classes']} model classes, "
            f"{result['py3langid_classes']} distinct language codes; of the corpus languages: "
            f"{result['corpus_languages_supported']}. wordfreq {result['machine']['wordfreq']}."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "language_id.json")
    args = parser.parse_args()

    from backend.language import identify

    tuning_rows, heldout_rows = load("tuning"), load("heldout")
    supported = identify.supported_languages()
    tuning = tune(tuning_rows, identify.ENGLISH_ZIPF_THRESHOLD)
    result = {
        "benchmark": "language_id",
        "data": {"tuning_lines": len(tuning_rows), "heldout_lines": len(heldout_rows),
                 "folder": str(DATA.relative_to(ROOT))},
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "py3langid": _version("py3langid"), "wordfreq": _version("wordfreq")},
        "py3langid_model_classes": len(identify._base_identifier().nb_classes),
        "py3langid_classes": len(supported),
        "corpus_languages_supported": {code: code in supported for code in CORPUS},
        "english_zipf_threshold": identify.ENGLISH_ZIPF_THRESHOLD,
        "tuning": tuning,
        "heldout": {
            "lines": line_accuracy(heldout_rows),
            "word_tags": word_tags(heldout_rows),
            "py3langid_on_romanized": romanized_outputs(heldout_rows),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))
    if not tuning["module_matches_tuning"]:
        print(f"note: the tuning set prefers {tuning['best_on_tuning']}, the module holds {tuning['module_threshold']}")


if __name__ == "__main__":
    main()
