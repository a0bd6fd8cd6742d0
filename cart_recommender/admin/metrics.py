"""How the admin screens present a version's holdout metrics, training history and progress.

Pure functions over :class:`~cart_recommender.models.ModelVersion` fields, so the list, the
detail page, the activation page and the progress JSON show the same numbers the same way.
"""

from __future__ import annotations

from typing import Any

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cart_recommender.admin.plots import Series, line_chart
from cart_recommender.models import ModelVersion

#: Known scorers in display order; any other key in ``metrics`` is shown after these.
METHOD_LABELS = {
    "model": "sequence model",
    "popularity": "popularity",
    "copurchase": "co-purchase",
    "personal": "personal history",
    "repeat_decay": "repeat, decayed",
    "tifuknn": "TIFU-KNN (reference)",
    "category_popularity": "category popularity (reference)",
}
SHORT_LABELS = {"popularity": "pop", "copurchase": "co", "personal": "pers", "repeat_decay": "rep",
                "tifuknn": "tifu", "category_popularity": "cat"}
#: Metric columns in display order; other numeric metrics follow.
METRIC_ORDER = ("hr@10", "ndcg@10", "mrr@10", "hr@3")
RUNNING = (ModelVersion.Status.QUEUED, ModelVersion.Status.TRAINING)


def methods(metrics: dict[str, Any]) -> list[str]:
    known = [m for m in METHOD_LABELS if m in metrics]
    return known + sorted(m for m in metrics if m not in METHOD_LABELS and isinstance(metrics[m], dict))


def metric_names(metrics: dict[str, Any]) -> list[str]:
    seen: list[str] = [name for name in METRIC_ORDER
                       if any(name in (metrics.get(m) or {}) for m in methods(metrics))]
    for m in methods(metrics):
        for name, value in (metrics.get(m) or {}).items():
            if name not in seen and isinstance(value, (int, float)) and not isinstance(value, bool):
                seen.append(name)
    return seen


def fmt_metric(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def metrics_table(version: ModelVersion) -> dict[str, Any]:
    """Rows (one per scorer) and columns (metrics); the best value of each column is flagged."""
    metrics = version.metrics or {}
    names = metric_names(metrics)
    best = {
        name: max((v for m in methods(metrics)
                   if isinstance(v := (metrics[m] or {}).get(name), (int, float))), default=None)
        for name in names
    }
    rows = []
    for m in methods(metrics):
        cells = []
        for name in names:
            value = (metrics[m] or {}).get(name)
            cells.append({"text": fmt_metric(value),
                          "best": value is not None and value == best[name] and best[name] > 0})
        rows.append({"key": m, "label": METHOD_LABELS.get(m, m), "cells": cells,
                     "serving": m == (version.serving_method or "model")})
    return {"columns": names, "rows": rows}


#: The query subsets a version page breaks the holdout into: (key in the metrics, HTML id,
#: title, the two subsets with their column labels, what they mean).
SPLITS = (
    ("by_kind", "cr-kinds", gettext_lazy("Repeat and explore"),
     (("repeat", gettext_lazy("repeat")), ("explore", gettext_lazy("explore"))),
     gettext_lazy("Repeat: the hidden item is one the shopper bought before. Explore: anything "
                  "else, including anonymous shoppers.")),
    ("by_item_age", "cr-ages", gettext_lazy("Cold and new products"),
     (("cold", gettext_lazy("cold")), ("new", gettext_lazy("new"))),
     gettext_lazy("Cold: the hidden product was in at most 2 training orders. New: it was first "
                  "bought in the holdout period; it is ranked against every product, these "
                  "included, and only its name, category and price can place it.")),
)


def split_tables(version: ModelVersion) -> list[dict[str, Any]]:
    """HR@10 and NDCG@10 of each scorer on the subsets of :data:`SPLITS`, with their counts.

    A table is left out when no scorer's metrics hold its breakdown (older versions).
    """
    metrics = version.metrics or {}
    tables = []
    for key, html_id, title, kinds, help_text in SPLITS:
        rows = []
        counts: dict[str, int] = {}
        for m in methods(metrics):
            found = (metrics[m] or {}).get(key) or {}
            if not found:
                continue
            serving = m == (version.serving_method or "model")
            rows.append({"label": METHOD_LABELS.get(m, m), "serving": serving,
                         "cells": [fmt_metric((found.get(k) or {}).get(name))
                                   for k, _label in kinds for name in ("hr@10", "ndcg@10")]})
            counts = counts or {k: (found.get(k) or {}).get("queries", 0) for k, _label in kinds}
        if rows:
            tables.append({"id": html_id, "title": title, "rows": rows, "help": help_text,
                           "columns": [_("%(kind)s (%(n)s queries)") % {"kind": label, "n": counts[k]}
                                       for k, label in kinds]})
    return tables


def loss_chart(version: ModelVersion) -> SafeString | None:
    history = version.history or {}
    loss = history.get("loss") or []
    if not loss:
        return None
    series = [Series(_("training loss"), loss)]
    if history.get("val_loss"):
        series.append(Series(_("validation loss"), history["val_loss"], dashed=True))
    return line_chart(series, x_values=list(range(1, len(loss) + 1)), title=_("Loss per epoch"),
                      x_label=_("epoch"), y_label=_("loss"))


def hr_curve_chart(version: ModelVersion) -> SafeString | None:
    metrics = version.metrics or {}
    curves = [(m, (metrics[m] or {}).get("hr_curve")) for m in methods(metrics)]
    curves = [(m, c) for m, c in curves if c]
    if not curves:
        return None
    k = max(len(c) for _m, c in curves)
    series = [
        Series(METHOD_LABELS.get(m, m), list(c), dashed=m != "model", width=3 if m == "model" else 1.5)
        for m, c in curves
    ]
    return line_chart(series, x_values=list(range(1, k + 1)), title=_("Hit rate at K on the holdout"),
                      x_label="K", y_label="HR@K", y_min=0.0, max_x_labels=10)


def item_item(version: ModelVersion) -> dict[str, Any] | None:
    """The item-to-item term's fit: the weight chosen on the validation split and its curve.

    A chart of validation NDCG@10 against the weight shows why that weight won (0: the term
    did not help and was left out).
    """
    fit = (version.history or {}).get("item_item") or {}
    if "alpha" not in fit:
        return None
    chart = _weight_chart(fit, _("Validation NDCG@10 by item-to-item weight"))
    return {"alpha": _fmt_weight(fit["alpha"]), "ridge": fit.get("ridge"), "covered": fit.get("covered"),
            "off": float(fit["alpha"]) == 0.0, "chart": chart}


def repeat_mix(version: ModelVersion) -> dict[str, Any] | None:
    """The repeat window's extra weight (gamma), chosen like the item-to-item weight.

    A large gamma says this shop's shoppers mostly buy again what they bought before, so the
    model leans on their own decayed purchase frequencies; 0 keeps the network's own balance.
    """
    fit = (version.history or {}).get("repeat_mix") or {}
    if "gamma" not in fit:
        return None
    chart = _weight_chart(fit, _("Validation NDCG@10 by repeat weight"))
    return {"gamma": _fmt_weight(fit["gamma"]), "off": float(fit["gamma"]) == 0.0, "chart": chart}


def rerank(version: ModelVersion) -> dict[str, Any] | None:
    """The second stage that reorders a returning shopper's best products, and why it was kept.

    It is fitted on four fifths of the validation orders' queries and kept only if it ranks the
    other fifth's hidden products higher than the model alone, so a shop where it does not
    help serves the model's own order.
    """
    fit = (version.history or {}).get("rerank") or {}
    if "kept" not in fit:
        return None
    ndcg = fit.get("val_ndcg") or {}
    return {"kept": bool(fit["kept"]), "why": fit.get("why", ""), "candidates": fit.get("candidates"),
            "lists": fit.get("with_target"), "held_out": fit.get("held_out"),
            "model": ndcg.get("model"), "reranked": ndcg.get("reranked"),
            "window_candidates": fit.get("window_candidates") or 0, "by_window": fit.get("by_window") or 0,
            "by_content_candidates": fit.get("by_content_candidates") or 0,
            "by_content": fit.get("by_content") or 0}


def _weight_chart(fit: dict[str, Any], title: str) -> SafeString | None:
    curve = fit.get("val_ndcg") or {}
    weights = sorted(curve, key=float)
    if not weights:
        return None
    return line_chart(
        [Series(_("validation NDCG@10"), [curve[w] for w in weights])],
        x_values=[_fmt_weight(w) for w in weights], title=title,
        x_label=_("weight"), y_label="NDCG@10",
    )


def _fmt_weight(value: Any) -> str:
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:g}"


def progress_payload(version: ModelVersion) -> dict[str, Any]:
    """What the progress bar shows; also the body of the admin's progress JSON view."""
    p = version.progress or {}
    running = version.status in RUNNING
    epoch, epochs = p.get("epoch"), p.get("epochs")
    percent = None
    if isinstance(epoch, (int, float)) and isinstance(epochs, (int, float)) and epochs > 0:
        percent = max(0, min(100, round(100 * epoch / epochs)))
    if not running:
        percent = 100
    parts = [str(p.get("stage") or version.get_status_display())]
    if epoch is not None and epochs:
        parts.append(_("epoch %(epoch)s of %(epochs)s") % {"epoch": epoch, "epochs": epochs})
    if isinstance(p.get("loss"), (int, float)):
        parts.append(_("loss %(loss).4f") % {"loss": p["loss"]})
    if isinstance(p.get("elapsed_s"), (int, float)):
        parts.append(_("%(s)s elapsed") % {"s": duration(p["elapsed_s"])})
    if running and isinstance(p.get("eta_s"), (int, float)):
        parts.append(_("about %(s)s left") % {"s": duration(p["eta_s"])})
    if running and version.cancel_requested:
        parts.append(_("cancelling…"))
    return {
        "id": version.pk,
        "status": version.status,
        "status_display": str(version.get_status_display()),
        "running": running,
        "done": not running,
        "cancel_requested": version.cancel_requested,
        "stage": p.get("stage"),
        "epoch": epoch,
        "epochs": epochs,
        "loss": p.get("loss"),
        "elapsed_s": p.get("elapsed_s"),
        "eta_s": p.get("eta_s"),
        "percent": percent,
        "text": " · ".join(parts),
        "error": (version.error or "").splitlines()[0] if version.error else "",
    }


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {s:02d} s"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min"
