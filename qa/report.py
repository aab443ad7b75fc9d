"""The QA report curators read: one self-contained HTML page (inline CSS and SVG) plus the same data as JSON.

:func:`render_html` draws from the dict :meth:`qa.assess.QAAssessment.to_dict`
returns (and ``qa_runs.results`` stores), so a stored run can be redrawn
without recomputing. Simulated annotators are marked wherever they appear.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from pathlib import Path
from typing import Any

from qa import plots

MAX_ROWS = 300

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
h3{font-size:15px;margin-top:22px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:bold}
.accept{background:#2e7d32}.tentative{background:#ef6c00}.reject{background:#c62828}.none{background:#777}
.sim{background:#ede7f6;color:#4527a0;border-radius:6px;padding:0 5px;font-size:11px}
.flag{color:#c62828;font-weight:bold}.muted{color:#777}.plots{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return '<span class="muted">–</span>'
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _verdict(verdict: str | None) -> str:
    name = verdict or "none"
    return f'<span class="verdict {_e(name)}">{_e(verdict or "not gated")}</span>'


def _ci(result: Mapping[str, Any]) -> str:
    if result.get("ci_low") is None:
        return '<span class="muted">–</span>'
    return f"[{result['ci_low']:.3f}, {result['ci_high']:.3f}] ({100 * result['confidence']:.0f}%, {result['n_draws']} draws)"


def _metric_rows(agreement: Mapping[str, Any], decision: Mapping[str, Any] | None) -> str:
    rows = []
    primary = agreement.get("primary")
    if primary:
        rows.append(
            f"<tr><td><b>{_e(agreement['metric'])}</b> (gate)</td><td class=num>{_num(primary['value'])}</td>"
            f"<td>{_ci(primary)}</td><td class=num>{primary['n_items']}</td><td class=num>{primary['n_annotators']}</td>"
            f"<td>{_verdict(decision['verdict'] if decision else None)}</td></tr>"
        )
    else:
        rows.append(
            f"<tr><td><b>{_e(agreement['metric'])}</b> (gate)</td><td colspan=4>{_e(agreement.get('reason'))}</td>"
            f"<td>{_verdict(decision['verdict'] if decision else None)}</td></tr>"
        )
    for group in ("companions", "per_label"):
        for name, result in agreement.get(group, {}).items():
            label = name if group == "companions" else f"label {name}: ordinal alpha"
            if result.get("value") is None:
                rows.append(f"<tr><td>{_e(label)}</td><td colspan=5 class=muted>{_e(result.get('reason'))}</td></tr>")
            else:
                rows.append(
                    f"<tr><td>{_e(label)}</td><td class=num>{_num(result['value'])}</td><td>{_ci(result)}</td>"
                    f"<td class=num>{result['n_items']}</td><td class=num>{result['n_annotators']}</td><td></td></tr>"
                )
    head = "<tr><th>metric</th><th>value</th><th>CI</th><th>items</th><th>annotators</th><th>verdict</th></tr>"
    return f'<table class="metrics">{head}{"".join(rows)}</table>'


def _decision(decision: Mapping[str, Any] | None) -> str:
    if not decision:
        return '<p class="muted">Not gated (free text is reported only).</p>'
    t = decision["thresholds"]
    return (
        f"<p>Gate: {_verdict(decision['verdict'])} — {_e(decision['reason'])}. Thresholds: accept ≥ {t['accept']:.3f}, "
        f"tentative ≥ {t['tentative']:.3f}, item ≥ {t['item']:.3f}, annotator ≥ {t['annotator']:.3f} "
        f"(decided on {_e(t['decide_on'])}).</p>"
    )


def _annotators(field: Mapping[str, Any], flags: list[Mapping[str, Any]]) -> str:
    flagged = {str(f["annotator"]): f["reason"] for f in flags}
    rows = []
    for a in field.get("annotators", []):
        name = str(a["annotator"])
        sim = ' <span class="sim">simulated</span>' if a.get("simulated") else ""
        flag = f'<span class="flag">flagged: {_e(flagged[name])}</span>' if name in flagged else ""
        rows.append(
            f"<tr><td>{_e(name)}{sim}</td><td class=num>{a['n_judgements']}</td><td class=num>{_num(a.get('loo_agreement'))}</td>"
            f"<td class=num>{a.get('n_compared', 0)}</td><td class=num>{_num(a.get('gold_accuracy'))}</td>"
            f"<td class=num>{a.get('n_gold', 0)}</td><td class=num>{_num(a.get('median_lead_time_s'), 1)}</td><td>{flag}</td></tr>"
        )
    head = (
        "<tr><th>annotator</th><th>judgements</th><th>agreement with others' majority</th><th>compared</th>"
        "<th>gold accuracy</th><th>gold items</th><th>median time (s)</th><th>reliability</th></tr>"
    )
    return f'<table class="annotators">{head}{"".join(rows)}</table>'


def _adjudications(cases: list[Mapping[str, Any]]) -> str:
    if not cases:
        return '<p class="muted">No item falls below the item threshold.</p>'
    rows = [
        f"<tr><td>{_e(c['item'])}</td><td class=num>{_num(c.get('agreement'))}</td><td>{_e(c['reason'])}</td>"
        f"<td>{_e(', '.join(f'{k}×{v}' for k, v in c['values'].items()))}</td></tr>"
        for c in cases[:MAX_ROWS]
    ]
    more = f'<p class="muted">{len(cases) - MAX_ROWS} more in the JSON report.</p>' if len(cases) > MAX_ROWS else ""
    head = "<tr><th>item</th><th>agreement</th><th>reason</th><th>judgements</th></tr>"
    return f"<p>{len(cases)} item(s) sent to adjudication.</p><table class=adjudication>{head}{''.join(rows)}</table>{more}"


def _rate(row: Mapping[str, Any], name: str) -> str:
    text = _num(row.get(name))
    return f"<b>{text}</b>" if row.get(name) is not None and name.endswith(row["primary"]) else text


def _error_rates(diag: Mapping[str, Any]) -> str:
    """The free-text table: per language, pairwise and ASR-vs-correction WER and CER, the primary one in bold."""
    rows = []
    for r in diag.get("by_language") or []:
        rates = "".join(
            f"<td class=num>{_rate(r, f'{side}_{metric}')}</td>"
            for side, metric in (("pairwise", "wer"), ("pairwise", "cer"), ("asr", "wer"), ("asr", "cer"))
        )
        rows.append(
            f"<tr><td>{_e(r['language'] or 'unknown')}</td><td class=num>{r['n_items']}</td><td class=num>{r['n_pairs']}</td>"
            f"<td class=num>{r['n_asr']}</td>{rates}<td>{_e(r['primary'].upper())}</td></tr>"
        )
    if not rows:
        return '<p class="muted">No texts to compare.</p>'
    head = (
        "<tr><th>language</th><th>items</th><th>pairs</th><th>corrections vs ASR</th><th>pairwise WER</th>"
        "<th>pairwise CER</th><th>ASR WER</th><th>ASR CER</th><th>primary</th></tr>"
    )
    note = (
        '<p class="muted">Pairwise: every two annotators\' texts of an item, each way round; ASR: the item\'s ASR '
        "text against each correction (the correction is the reference). Corpus rates: summed edits over summed "
        "reference length. Chinese is compared in Simplified characters, its CER without spaces.</p>"
    )
    return f'<table class="error-rates">{head}{"".join(rows)}</table>{note}'


def _plots(field: Mapping[str, Any], diag: Mapping[str, Any]) -> str:
    name = field["spec"]["name"]
    out = []
    cats = diag.get("categories") or []
    if cats and diag.get("coincidence"):
        out.append(
            plots.heatmap(diag["coincidence"], cats, cats, f"{name}: coincidence matrix (all pairs)",
                          row_axis="value", column_axis="value")
        )
    if cats and diag.get("overall_counts"):
        out.append(plots.bar_chart(cats, diag["overall_counts"], f"{name}: label distribution (judgements)"))
    for pair in (diag.get("pairs") or [])[:6]:
        out.append(
            plots.heatmap(pair["matrix"], cats, cats, f"{pair['annotator_a']} vs {pair['annotator_b']} "
                          f"({pair['n_items']} items)", row_axis=str(pair["annotator_a"]),
                          column_axis=str(pair["annotator_b"]), cell=26)
        )
    for by, table in (diag.get("distributions") or {}).items():
        if len(table["groups"]) > 1 or by == "language":
            out.append(plots.stacked_shares(table["groups"][:30], cats, table["counts"][:30], f"{name}: labels by {by}"))
    hist = diag.get("item_agreement_histogram") or []
    if hist:
        bins = [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(10)]
        out.append(plots.bar_chart(bins, hist, f"{name}: items by agreement"))
    drift = diag.get("drift") or []
    if drift:
        series: dict[str, list[tuple[float, float]]] = {}
        for row in drift:
            if row.get("loo_agreement") is not None:
                series.setdefault(str(row["annotator"]), []).append((row["window"] + 1, row["loo_agreement"]))
        if series:
            out.append(plots.line_chart(dict(list(series.items())[:10]), f"{name}: agreement over time",
                                        x_label="time window (own judgements, oldest first)",
                                        y_label="agreement with others"))
    return f'<div class="plots">{"".join(out)}</div>'


def render_html(result: Mapping[str, Any], *, title: str = "QA report") -> str:
    """The whole report as one HTML string (no external resources)."""
    opts = result.get("options", {})
    sections = []
    for field in result["fields"]:
        spec, diag = field["spec"], field.get("diagnostics") or {}
        body = [
            f'<section class="field" id="field-{_e(spec["name"])}"><h2>Field <code>{_e(spec["name"])}</code> '
            f'<span class=muted>({_e(spec["kind"])})</span></h2>',
            _metric_rows(field["agreement"], field.get("decision")),
            _decision(field.get("decision")),
        ]
        if diag.get("kind") == "free_text" and "by_language" in diag:
            body.append("<h3>Error rates by language</h3>" + _error_rates(diag))
        if diag.get("annotators") is not None and diag:
            body.append(_plots(field, diag))
            body.append("<h3>Annotators</h3>" + _annotators(diag, field.get("flags", [])))
            body.append("<h3>Adjudication</h3>" + _adjudications(field.get("adjudications", [])))
        body.append("</section>")
        sections.append("".join(body))
    simulated = sorted(
        {str(a["annotator"]) for f in result["fields"] for a in (f.get("diagnostics") or {}).get("annotators", [])
         if a.get("simulated")}
    )
    sim_note = (
        f'<p><span class="sim">simulated</span> annotators ({_e(", ".join(simulated))}) are demo/load-test users, '
        "not people.</p>"
        if simulated
        else ""
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p id="verdict">Batch verdict: {_verdict(result["verdict"])} — {result["n_judgements"]} judgements of '
        f'{result["n_items"]} items by {result["n_annotators"]} annotators. Confidence intervals: '
        f'{opts.get("n_boot", 0)} bootstrap draws over items, seed {opts.get("seed")}.</p>'
        f"{sim_note}{''.join(sections)}</body></html>"
    )


def write_report(result: Mapping[str, Any], out_dir: Path, *, name: str = "qa", title: str = "QA report") -> tuple[Path, Path]:
    """Write ``<name>.html`` and ``<name>.json`` into ``out_dir`` (created); returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out_dir / f"{name}.html", out_dir / f"{name}.json"
    html_path.write_text(render_html(result, title=title), encoding="utf-8")
    json_path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return html_path, json_path
