"""Reports of an eval run: a text summary, a self-contained HTML page (matplotlib plots embedded
as base64 PNG, no CDN, no script), the comparison of two runs with significance, and a RAGAS
export."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.harness import ANSWER_ACTIONS, LOWER_IS_BETTER
from eval.metrics import RETRIEVAL_KEYS, paired_bootstrap, permutation_test
from kb.errors import without_own_name

GROUPS = ("retrieval", "answers", "scorer")
SCORER_KEYS = ("balanced_accuracy", "f1_unsupported", "roc_auc", "threshold")


# ----------------------------------------------------------------------------- text


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "-" if v is None else str(v)


def fallback_note(res: dict[str, Any], llm: Any) -> str | None:
    """What a set's figures measure when some of its answers were composed without the LLM under
    test ("3 of 5 answers were composed offline because the LLM failed: these figures do not
    measure openai-compatible:...#qwen"); None when none was. `kb eval --llm` with the server down
    measured the extractive fallback, passed its gate and said so only in the JSON's counts."""
    fell_back = int(res.get("counts", {}).get("llm_fallbacks") or 0)
    if not fell_back:
        return None
    qs = res.get("questions")
    if qs:  # the answers given, a fallback whose answer the check turned to a hand-off among them
        answers = sum(1 for q in qs if q.get("action") in ANSWER_ACTIONS or q.get("fallback"))
    else:
        actions = res.get("counts", {}).get("actions", {})
        answers = sum(int(actions.get(a, 0)) for a in ANSWER_ACTIONS)
    return (f"{fell_back} of {max(answers, fell_back)} answers were composed offline because the LLM failed: "
            f"these figures do not measure {llm or 'the LLM'}")


def render_summary_text(result: dict[str, Any]) -> str:
    lines: list[str] = []
    llm = result.get("settings", {}).get("llm")
    for name, res in result["sets"].items():
        lines.append(f"{name} ({res['kind']}, n={res['n']})")
        note = fallback_note(res, llm)
        if note:
            lines.append(f"  warning: {note}")
        for w in res.get("warnings", []):
            lines.append(f"  warning: {w}")
        failed = res.get("ingest_failed", [])
        if failed:
            shown = ", ".join(f["source"] for f in failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
            lines.append(f"  ingest failed for {len(failed)} document{'s' if len(failed) > 1 else ''}: {shown}")
        for group in GROUPS:
            vals = res.get(group)
            if not vals:
                continue
            cis = res.get("ci", {}) if group != "scorer" else res.get("scorer_detail", {}).get("ci", {})
            parts = []
            for k, v in vals.items():
                ci = cis.get(k)
                parts.append(f"{k} {_fmt(v)}" + (f" [{ci[0]:.3f}-{ci[1]:.3f}]" if ci else ""))
            lines.append(f"  {group:10s} " + "  ".join(parts))
        for peer, pres in res.get("scorer_peers", {}).items():
            lines.append(
                f"  {'peer ' + peer:10s} " + "  ".join(f"{k} {_fmt(pres.get(k))}" for k in SCORER_KEYS)
            )
        cv = res.get("scorer_detail", {}).get("cross_validated")
        if cv:
            head = cv.get("embedding") or cv.get("lexical") or {}
            lines.append(
                f"  {'cv':10s} trained on this set; {cv.get('folds')}-fold CV balanced accuracy "
                f"{_fmt(head.get('balanced_accuracy'))} vs lexical peer {_fmt(head.get('lexical_peer_balanced_accuracy'))}"
            )
        lat = res.get("latency_ms")
        if lat:
            lines.append(
                "  latency    "
                + "  ".join(
                    f"{s} p50 {v['p50']:.0f} / p95 {v['p95']:.0f} ms"
                    for s, v in lat.items()
                    if v.get("p50") is not None
                )
            )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- compare


def _per_question(res: dict[str, Any], metric: str) -> dict[str, float]:
    return {q["id"]: q["metrics"][metric] for q in res.get("questions", []) if metric in q.get("metrics", {})}


def compare_reports(a: dict[str, Any], b: dict[str, Any], n_resamples: int = 2000) -> dict[str, Any]:
    """B minus A for every metric of every set in both. With per-question scores in both runs
    the difference gets a paired bootstrap CI and a sign-flip permutation p-value over the
    questions both runs share; ``worse`` lists the metrics that got significantly worse
    (p < 0.05), ``worse_unpaired`` the ones that dropped where no test was possible. ``paired``
    counts each set's question ids in A, in B and in both: two runs of different questions paired
    none, and read "nothing got significantly worse"."""
    out: dict[str, Any] = {"sets": {}, "worse": [], "better": [], "worse_unpaired": [], "paired": {}}
    for name in sorted(set(a["sets"]) & set(b["sets"])):
        ra, rb = a["sets"][name], b["sets"][name]
        ids_a = {q["id"] for q in ra.get("questions", []) if "id" in q}
        ids_b = {q["id"] for q in rb.get("questions", []) if "id" in q}
        out["paired"][name] = {"a": len(ids_a), "b": len(ids_b), "common": len(ids_a & ids_b)}
        rows = []
        for group in GROUPS:
            for metric in sorted(set(ra.get(group, {})) & set(rb.get(group, {}))):
                if metric == "threshold":
                    continue
                va, vb = float(ra[group][metric]), float(rb[group][metric])
                row: dict[str, Any] = {
                    "group": group,
                    "metric": metric,
                    "a": va,
                    "b": vb,
                    "diff": round(vb - va, 4),
                }
                lower_better = metric in LOWER_IS_BETTER
                qa, qb = _per_question(ra, metric), _per_question(rb, metric)
                common = sorted(set(qa) & set(qb))
                sign = -1 if lower_better else 1
                if len(common) >= 5 and group != "scorer":
                    xa, xb = [qa[i] for i in common], [qb[i] for i in common]
                    boot = paired_bootstrap(xa, xb, n_resamples=n_resamples)
                    perm = permutation_test(xa, xb, n_resamples=n_resamples)
                    row.update(
                        {
                            "n_paired": len(common),
                            "ci": [round(c, 4) for c in boot.ci],
                            "p_value": round(perm.p_value, 4),
                            "test": perm.method,
                        }
                    )
                    significant = perm.p_value < 0.05
                    if significant and sign * boot.diff < 0:
                        out["worse"].append(f"{name}:{metric}")
                    elif significant and sign * boot.diff > 0:
                        out["better"].append(f"{name}:{metric}")
                elif group == "scorer":
                    # scorer metrics are not means over items: compare per-item correctness instead
                    key = "correct:" + str(ra.get("scorer_detail", {}).get("id", ""))
                    keyb = "correct:" + str(rb.get("scorer_detail", {}).get("id", ""))
                    ca, cb = _per_question(ra, key), _per_question(rb, keyb)
                    common = sorted(set(ca) & set(cb))
                    if len(common) >= 5:
                        perm = permutation_test(
                            [ca[i] for i in common], [cb[i] for i in common], n_resamples=n_resamples
                        )
                        row.update(
                            {
                                "n_paired": len(common),
                                "p_value": round(perm.p_value, 4),
                                "test": "sign-flip permutation on per-item correctness",
                            }
                        )
                        if perm.p_value < 0.05 and sign * (vb - va) < 0:
                            out["worse"].append(f"{name}:{metric}")
                        elif perm.p_value < 0.05 and sign * (vb - va) > 0:
                            out["better"].append(f"{name}:{metric}")
                    elif sign * (vb - va) < 0:
                        out["worse_unpaired"].append(f"{name}:{metric}")
                elif sign * (vb - va) < 0:
                    out["worse_unpaired"].append(f"{name}:{metric}")
                rows.append(row)
        out["sets"][name] = rows
    out["only_in_a"] = sorted(set(a["sets"]) - set(b["sets"]))
    out["only_in_b"] = sorted(set(b["sets"]) - set(a["sets"]))
    out["environment"] = environment_differences(a, b)
    return out


def environment_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """How two reports' environments (:func:`eval.harness.environment`) differ, one "what: A -> B"
    per difference; none where either report records none (one from before they were recorded)."""
    ea, eb = a.get("environment"), b.get("environment")
    if not isinstance(ea, dict) or not isinstance(eb, dict):
        return []
    pa, pb = ea.get("packages") or {}, eb.get("packages") or {}
    pairs = [(key, ea.get(key), eb.get(key)) for key in ("python", "cpu", "simd")]
    pairs += [(name, pa.get(name), pb.get(name)) for name in sorted(set(pa) | set(pb))]
    return [f"{what}: {x if x is not None else '-'} -> {y if y is not None else '-'}" for what, x, y in pairs if x != y]


def pairing_text(paired: dict[str, int]) -> str:
    """"20 of 24/24 question ids in common" (A's count/B's count), with "; the sets differ" when
    none is; "" for reports without per-question records."""
    if not paired.get("a") and not paired.get("b"):
        return ""
    text = f"{paired['common']} of {paired['a']}/{paired['b']} question ids in common"
    return text + ("; the sets differ" if not paired["common"] else "")


def untested_sets(cmp: dict[str, Any]) -> list[str]:
    """The sets whose two runs have per-question records but no question in common."""
    return [n for n, p in cmp.get("paired", {}).items() if p["a"] and p["b"] and not p["common"]]


def render_compare_text(cmp: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    lines = [f"B = {name_b} minus A = {name_a}"]
    if cmp.get("environment"):
        # near-tied rankings can differ with these alone, the code unchanged
        lines.append("the two runs' environments differ: " + "; ".join(cmp["environment"]))
    for name, rows in cmp["sets"].items():
        pairing = pairing_text(cmp.get("paired", {}).get(name, {}))
        lines.append(f"{name} ({pairing})" if pairing else name)
        for r in rows:
            sig = ""
            if "p_value" in r:
                sig = f"  p={r['p_value']:.3f}" + (
                    f" CI [{r['ci'][0]:+.3f}, {r['ci'][1]:+.3f}]" if "ci" in r else ""
                )
            mark = (
                " WORSE"
                if f"{name}:{r['metric']}" in cmp["worse"]
                else (" better" if f"{name}:{r['metric']}" in cmp["better"] else "")
            )
            lines.append(f"  {r['metric']:22s} {r['a']:.3f} -> {r['b']:.3f}  ({r['diff']:+.3f}){sig}{mark}")
    untested = untested_sets(cmp)
    if cmp["worse"]:
        lines.append("significantly worse (p < 0.05): " + ", ".join(cmp["worse"]))
    elif untested:
        lines.append(f"nothing tested for significance in {', '.join(untested)}: no question in common")
    else:
        lines.append("nothing got significantly worse")
    if cmp["worse_unpaired"]:
        lines.append(
            "lower without a paired test (no per-question scores): " + ", ".join(cmp["worse_unpaired"])
        )
    for key, label in (("only_in_a", "only in A"), ("only_in_b", "only in B")):
        if cmp.get(key):
            lines.append(f"{label}: {', '.join(cmp[key])}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- RAGAS


def ragas_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per answered QA question, with both the classic RAGAS column names (question,
    answer, contexts, ground_truths / ground_truth) and the 0.2+ ones (user_input, response,
    retrieved_contexts, reference). A question not answered (refused, handed off, asked back to
    clarify, or failed) is left out: its text is the canned reply ("I cannot answer this
    reliably..."), which RAGAS would score as an answer: the export held them all."""
    rows = []
    for name, res in result["sets"].items():
        if res.get("kind") != "qa":
            continue
        for q in res.get("questions", []):
            if q.get("action") not in ANSWER_ACTIONS or not str(q.get("answer", "")).strip():
                continue  # (as the harness counts an answer: eval.harness.score_question)
            contexts = [c["text"] for c in q.get("citations", [])] or [
                p["text"] for p in q.get("passages", [])
            ]
            refs = q.get("references", [])
            rows.append(
                {
                    "set": name,
                    "id": q["id"],
                    "question": q["question"],
                    "answer": q["answer"],
                    "contexts": contexts,
                    "ground_truths": refs,
                    "ground_truth": refs[0] if refs else "",
                    "user_input": q["question"],
                    "response": q["answer"],
                    "retrieved_contexts": contexts,
                    "reference": refs[0] if refs else "",
                }
            )
    return rows


def write_ragas(result: dict[str, Any], path: Path) -> int:
    rows = ragas_rows(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return len(rows)


# ----------------------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;
margin:2em auto;max-width:1100px;color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
td,th{border:1px solid #ddd;padding:.3em .6em;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.ci{color:#888;font-size:.85em}
.bad{background:#fde2e2}.good{background:#e3f6e3}
mark.unsup{background:#ffc9c9;text-decoration:line-through wavy #c00}
mark.sup{background:#d8f5d8}
details{margin:.3em 0;border:1px solid #e4e4e4;border-radius:4px;padding:.3em .6em}
summary{cursor:pointer}.passage{font-size:.88em;color:#333;background:#fafafa;border-left:3px solid #ccc;
padding:.3em .6em;margin:.3em 0;white-space:pre-wrap}.gold{border-left-color:#2a2}
.tag{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:3px;background:#eee;margin-left:.3em}
img{max-width:100%}
"""


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return (
        '<img alt="plot" src="data:image/png;base64,'
        + base64.b64encode(buf.getvalue()).decode("ascii")
        + '">'
    )


def _plots(result: dict[str, Any]) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["<p>matplotlib is not installed: no plots (pip install 'kb-assistant[eval]').</p>"]
    out = []
    qa = {n: r for n, r in result["sets"].items() if r["kind"] == "qa"}
    for group, keys in (
        ("retrieval", RETRIEVAL_KEYS),
        (
            "answers",
            (
                "faithfulness",
                "fully_supported",
                "citation_precision",
                "citation_recall",
                "correctness_f1",
                "correctness_similarity",
                "refusal_accuracy",
                "handoff_rate",
            ),
        ),
    ):
        present = [k for k in keys if any(k in r.get(group, {}) for r in qa.values())]
        if not present:
            continue
        fig, ax = plt.subplots(figsize=(10, 3.6))
        width = 0.8 / max(1, len(qa))
        for i, (name, r) in enumerate(qa.items()):
            xs = [j + i * width for j in range(len(present))]
            vals = [r.get(group, {}).get(k, 0.0) for k in present]
            cis = [r.get("ci", {}).get(k) for k in present]
            err = [
                [v - c[0] if c else 0 for v, c in zip(vals, cis, strict=True)],
                [c[1] - v if c else 0 for v, c in zip(vals, cis, strict=True)],
            ]
            ax.bar(xs, vals, width, label=name, yerr=err, capsize=2)
        ax.set_xticks([j + width * (len(qa) - 1) / 2 for j in range(len(present))], present, rotation=20)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{group} (bars: 95% bootstrap CI)")
        ax.legend(fontsize=8, ncol=min(4, len(qa)))
        out.append(_png(fig))
    # latency
    stages = sorted({s for r in qa.values() for s in r.get("latency_ms", {})})
    if stages:
        fig, ax = plt.subplots(figsize=(10, 3.2))
        width = 0.8 / max(1, len(qa))
        for i, (name, r) in enumerate(qa.items()):
            xs = [j + i * width for j in range(len(stages))]
            ax.bar(
                xs,
                [(r["latency_ms"].get(s) or {}).get("p50") or 0 for s in stages],
                width,
                label=f"{name} p50",
            )
            ax.scatter(
                xs,
                [(r["latency_ms"].get(s) or {}).get("p95") or 0 for s in stages],
                marker="_",
                s=120,
                color="k",
            )
        ax.set_xticks([j + width * (len(qa) - 1) / 2 for j in range(len(stages))], stages, rotation=20)
        ax.set_ylabel("ms")
        ax.set_title("latency per stage (bar p50, tick p95)")
        ax.legend(fontsize=8, ncol=min(4, len(qa)))
        out.append(_png(fig))
    # scorer ROC curves
    for name, r in result["sets"].items():
        if r["kind"] != "faithfulness" or not r.get("questions"):
            continue
        fig, ax = plt.subplots(figsize=(4.6, 4.2))
        labels = [q["label"] for q in r["questions"]]
        for sname in r["questions"][0]["scores"]:
            scores = [q["scores"][sname] for q in r["questions"]]
            fpr, tpr = _roc_points(labels, scores)
            ax.plot(fpr, tpr, label=sname)
        ax.plot([0, 1], [0, 1], ":", color="#999")
        ax.set_xlabel("false positive rate (unsupported judged supported)")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"{name}: ROC of the scorers")
        ax.legend(fontsize=8)
        out.append(_png(fig))
    return out


def _roc_points(labels: Sequence[int], scores: Sequence[float]) -> tuple[list[float], list[float]]:
    pairs = sorted(zip(scores, labels, strict=True), key=lambda t: -t[0])
    pos = sum(labels) or 1
    neg = (len(labels) - sum(labels)) or 1
    tp = fp = 0
    fpr, tpr = [0.0], [0.0]
    i = 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            tp += pairs[j][1]
            fp += 1 - pairs[j][1]
            j += 1
        fpr.append(fp / neg)
        tpr.append(tp / pos)
        i = j
    return fpr, tpr


def _e(s: Any) -> str:
    return html.escape(str(s))


def _summary_table(result: dict[str, Any], cmp: dict[str, Any] | None) -> str:
    worse = set(cmp["worse"]) if cmp else set()
    better = set(cmp["better"]) if cmp else set()
    rows = [
        '<table><tr><th class="l">set</th><th class="l">kind</th><th>n</th><th class="l">metric</th>'
        "<th>value</th><th>95% CI</th></tr>"
    ]
    for name, res in result["sets"].items():
        first = True
        for group in GROUPS:
            cis = res.get("ci", {}) if group != "scorer" else res.get("scorer_detail", {}).get("ci", {})
            for k, v in res.get(group, {}).items():
                ci = cis.get(k)
                cls = (
                    ' class="bad"'
                    if f"{name}:{k}" in worse
                    else (' class="good"' if f"{name}:{k}" in better else "")
                )
                head = (
                    f'<td class="l">{_e(name)}</td><td class="l">{_e(res["kind"])}</td><td>{res["n"]}</td>'
                    if first
                    else "<td></td><td></td><td></td>"
                )
                first = False
                rows.append(
                    f"<tr{cls}>{head}<td class='l'>{_e(group)}.{_e(k)}</td><td>{_fmt(v)}</td>"
                    f"<td class='ci'>{f'{ci[0]:.3f} – {ci[1]:.3f}' if ci else ''}</td></tr>"
                )
        for peer, pres in res.get("scorer_peers", {}).items():
            for k in SCORER_KEYS:
                if k in pres:
                    rows.append(
                        f"<tr><td></td><td></td><td></td><td class='l'>peer {_e(peer)}.{k}</td>"
                        f"<td>{_fmt(pres[k])}</td><td></td></tr>"
                    )
    rows.append("</table>")
    return "".join(rows)


def _answer_html(q: dict[str, Any]) -> str:
    if not q.get("sentences"):
        return f"<p><b>{_e(q['action'])}</b>: {_e(q['answer'])}</p>"
    parts = []
    for s in q["sentences"]:
        cls = "sup" if s["supported"] else "unsup"
        cites = "".join(f"[{n}]" for n in s["cited"])
        title = f"support {s['support']}" + (
            "" if s["citation_supported"] else "; its own citations do not support it"
        )
        parts.append(f'<mark class="{cls}" title="{_e(title)}">{_e(s["text"])}</mark> {_e(cites)}')
    dropped = "".join(f'<li><mark class="unsup">{_e(u)}</mark></li>' for u in q.get("unsupported", []))
    extra = f"<p>dropped by the citation check:</p><ul>{dropped}</ul>" if dropped else ""
    return f"<p><b>{_e(q['action'])}</b>: {' '.join(parts)}</p>{extra}"


def _question_html(q: dict[str, Any]) -> str:
    m = q.get("metrics", {})
    badge = " ".join(f'<span class="tag">{_e(k)} {_fmt(v)}</span>' for k, v in m.items())
    hist = "".join(f"<div><i>{_e(h['role'])}</i>: {_e(h['content'])}</div>" for h in q.get("history", []))
    passages = "".join(
        f'<div class="passage{" gold" if p["gold"] else ""}"><b>{_e(p["source"])}</b> score {_fmt(p["score"])}'
        f"{' · gold' if p['gold'] else ''}{' · cited' if p['cited'] else ''}\n{_e(p['text'])}</div>"
        for p in q.get("passages", [])
    )
    refs = "".join(f"<li>{_e(r[:400])}</li>" for r in q.get("references", []))
    return (
        f"<details><summary><b>{_e(q['id'])}</b> [{_e(q['lang'])}{'' if q['answerable'] else ', unanswerable'}] "
        f"{_e(q['question'][:160])} {badge}</summary>"
        f"{'<div>history:</div>' + hist if hist else ''}"
        f"<p>query: <code>{_e(q.get('query', ''))}</code><br>gold: {_e(', '.join(q['gold']) or '—')}<br>"
        f"retrieved: {_e(', '.join(r['source'] for r in q.get('retrieved', [])))}</p>"
        f"{_answer_html(q)}"
        f"{'<p>references:</p><ul>' + refs + '</ul>' if refs else ''}"
        f"<p>top passages:</p>{passages}</details>"
    )


def _badness(q: dict[str, Any]) -> tuple[int, float, float]:
    """Sort key of the worst questions, worst first: (a correct refusal, the mean of the question's
    scores in [0, 1], MRR). An answerable question refused scores 0 for it, an unanswerable one
    answered 0; correct refusals come last. Correct refusals (1 of one score) came before an
    answerable question refused (its hit@10 and faithfulness left at 1 added up to 2)."""
    m = q.get("metrics", {})
    if not q["answerable"]:
        right = m.get("refusal_accuracy", 1.0)
        return (int(right == 1.0), right, 1.0)
    scores = [m[k] for k in ("hit@10", "faithfulness", "correctness_f1") if k in m]
    if "false_refusal_rate" in m:
        scores.append(1.0 - m["false_refusal_rate"])
    return (0, sum(scores) / len(scores) if scores else 1.0, m.get("mrr@10", 1.0))


def failure_text(failed: dict[str, str]) -> str:
    """"tariffs.pdf: not a PDF file..." of an ingest failure ({source, error}): its error names the
    file (or its file name) first already, and the report said "tariffs.pdf: tariffs.pdf: not a
    PDF file..." (as `kb ingest` prints it: kb.commands.common.print_problems)."""
    source, error = failed["source"], failed["error"]
    return f"{source}: {without_own_name(source, error)}" if source else error


def render_html(result: dict[str, Any], compare: dict[str, Any] | None = None, worst: int = 10) -> str:
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>kb eval report</title><style>{CSS}</style>"
        "</head><body><h1>Knowledge-base eval report</h1>"
    ]
    settings = result.get("settings", {})
    parts.append("<p>" + " · ".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in settings.items()) + "</p>")
    parts.append("<h2>Summary</h2>" + _summary_table(result, compare))
    for name, res in result["sets"].items():  # under the figures they qualify, not only in the set's section
        note = fallback_note(res, settings.get("llm"))
        if note:
            parts.append(f"<p class='bad'>{_e(name)}: {_e(note)}</p>")
    if compare:
        parts.append(
            "<p>Compared with a previous run: red = significantly worse (p &lt; 0.05), green = better. "
            f"Worse: {_e(', '.join(compare['worse']) or 'nothing')}.</p>"
        )
        pairings = [
            f"{_e(name)}: {_e(text)}"
            for name, p in compare.get("paired", {}).items()
            if (text := pairing_text(p))
        ]
        if pairings:
            parts.append("<p>Questions paired: " + "; ".join(pairings) + ".</p>")
    parts.append("<h2>Plots</h2>" + "".join(_plots(result)))
    for name, res in result["sets"].items():
        qs = res.get("questions", [])
        parts.append(f"<h2>{_e(name)}</h2>")
        note = fallback_note(res, settings.get("llm"))
        if note:
            parts.append(f"<p class='bad'>warning: {_e(note)}</p>")
        for w in res.get("warnings", []):
            parts.append(f"<p class='bad'>warning: {_e(w)}</p>")
        if res.get("ingest_failed"):
            parts.append(
                "<p class='bad'>failed to ingest (their questions were asked without them):</p><ul>"
                + "".join(f"<li>{_e(failure_text(f))}</li>" for f in res["ingest_failed"])
                + "</ul>"
            )
        if res.get("by_lang") and len(res["by_lang"]) > 1:
            parts.append(
                "<p>by language: "
                + "; ".join(
                    f"{_e(lang)} (n={v['n']}): "
                    + ", ".join(
                        f"{k} {_fmt(x)}" for g in ("retrieval", "answers") for k, x in v.get(g, {}).items()
                    )
                    for lang, v in res["by_lang"].items()
                )
                + "</p>"
            )
        if res["kind"] == "qa":
            bad = sorted(qs, key=_badness)[:worst]
            parts.append(f"<h3>The {len(bad)} worst questions</h3>" + "".join(_question_html(q) for q in bad))
            parts.append(f"<h3>All {len(qs)} questions</h3>" + "".join(_question_html(q) for q in qs))
        else:
            wrong = [
                q
                for q in qs
                if not all(v == 1.0 for k, v in q["metrics"].items() if k.startswith("correct:"))
            ]
            parts.append(f"<h3>Answers a scorer got wrong ({len(wrong)} of {len(qs)})</h3>")
            for q in wrong[:100]:
                scores = " ".join(f'<span class="tag">{_e(k)} {v:.3f}</span>' for k, v in q["scores"].items())
                ctx = "".join(f'<div class="passage">{_e(c)}</div>' for c in q["context"])
                parts.append(
                    f"<details><summary><b>{_e(q['id'])}</b> label {'supported' if q['label'] else 'unsupported'} "
                    f"{scores}</summary><p>{_e(q['answer'])}</p>{ctx}</details>"
                )
    parts.append("</body></html>")
    return "".join(parts)


def write_html(result: dict[str, Any], path: Path, compare: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, compare), encoding="utf-8")
