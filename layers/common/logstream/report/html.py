"""The completeness ledger as one self-contained HTML page: a heatmap of log groups by
days and the quarantine by reason. Inline CSS, no script, no external asset, so the
page opens anywhere (a mail attachment, an S3 object, a CI artifact).

Every cell carries its values as ``data-*`` attributes, so a test (or a script)
can read the page back and compare it with the ledger.
"""

from __future__ import annotations

from html import escape
from typing import Final

from logstream.report.ledger import DayCell, DayState, Ledger

#: How each state looks: a label, a mark that does not rely on colour, a colour.
_LOOK: Final = {
    DayState.VERIFIED: ("verified", "✓", "#a5d6a7"),
    DayState.GAP_REPAIRED: ("gap repaired", "↺", "#90caf9"),
    DayState.GAP_OPEN: ("gap open", "✗", "#ef9a9a"),
    DayState.PENDING: ("pending", "…", "#e0e0e0"),
}

_CSS: Final = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 24px; color: #212121; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
p.meta { color: #616161; margin: 0 0 16px; }
ul.legend { list-style: none; padding: 0; margin: 0 0 16px; display: flex; gap: 16px;
            flex-wrap: wrap; }
ul.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 22px; height: 18px; border-radius: 3px;
          text-align: center; font-weight: 600; }
table { border-collapse: separate; border-spacing: 3px; }
th { font-weight: 600; text-align: left; padding: 4px 6px; white-space: nowrap; }
thead th { text-align: center; font-size: 12px; color: #424242; }
td.cell { min-width: 78px; padding: 4px 6px; border-radius: 4px; text-align: right;
          font-variant-numeric: tabular-nums; vertical-align: top; }
td.cell .mark { float: left; font-weight: 700; }
td.cell .side { display: block; font-size: 12px; }
td.cell .extra { display: block; font-size: 11px; color: #37474f; }
table.quarantine td { padding: 4px 10px; text-align: right; background: #fff3e0;
                      font-variant-numeric: tabular-nums; }
table.quarantine td.zero { background: #fafafa; color: #9e9e9e; }
p.none { color: #616161; }
"""


def _number(value: int) -> str:
    return f"{value:,}"


def _cell(cell: DayCell) -> str:
    label, mark, colour = _LOOK[cell.state]
    extras = []
    if cell.events_reshipped:
        extras.append(f"+{_number(cell.events_reshipped)} re-shipped")
    if cell.events_still_missing:
        extras.append(f"{_number(cell.events_still_missing)} missing")
    if cell.counts_through is not None:
        extras.append(f"counts to {cell.counts_through:%m-%d}")
    title = (
        f"{cell.log_group} {cell.day.isoformat()}: {label}; "
        f"CloudWatch {cell.source_events}, index {cell.index_events}, "
        f"{cell.gaps_found} gaps found, {cell.gaps_open} open, "
        f"{cell.proven_ms / 3_600_000:.1f} h proven, {cell.runs} runs"
    )
    body = (
        f'<span class="mark">{mark}</span>'
        f'<span class="side">{_number(cell.source_events)}</span>'
        f'<span class="side">{_number(cell.index_events)}</span>'
        + "".join(f'<span class="extra">{escape(e)}</span>' for e in extras)
    )
    return (
        f'<td class="cell" style="background:{colour}" title="{escape(title)}"'
        f' data-group="{escape(cell.log_group)}" data-day="{cell.day.isoformat()}"'
        f' data-state="{cell.state.value}" data-source="{cell.source_events}"'
        f' data-index="{cell.index_events}" data-reshipped="{cell.events_reshipped}"'
        f' data-missing="{cell.events_still_missing}" data-gaps="{cell.gaps_found}"'
        f' data-open="{cell.gaps_open}">{body}</td>'
    )


def _heatmap(ledger: Ledger) -> str:
    head = "".join(f'<th scope="col">{day:%a}<br>{day:%m-%d}</th>' for day in ledger.days)
    rows = "".join(
        f'<tr><th scope="row">{escape(group)}</th>'
        + "".join(_cell(ledger.cell(group, day)) for day in ledger.days)
        + "</tr>"
        for group in ledger.groups
    )
    return (
        f'<table class="heatmap"><thead><tr><th>log group</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def _quarantine(ledger: Ledger) -> str:
    if not ledger.quarantine:
        return '<p class="none">Nothing is parked in the quarantine.</p>'
    reasons = ledger.quarantine_reasons
    head = "".join(f'<th scope="col">{escape(r)}</th>' for r in reasons)
    rows = ""
    for group, by_reason in ledger.quarantine.items():
        tds = "".join(
            f'<td class="{"" if by_reason.get(r) else "zero"}" data-group="{escape(group)}"'
            f' data-reason="{escape(r)}" data-count="{by_reason.get(r, 0)}">'
            f"{_number(by_reason.get(r, 0))}</td>"
            for r in reasons
        )
        rows += f'<tr><th scope="row">{escape(group)}</th>{tds}</tr>'
    return (
        f'<table class="quarantine"><thead><tr><th>log group</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def render_html(ledger: Ledger) -> str:
    """The whole page for ``ledger``."""
    totals = ledger.totals()
    legend = "".join(
        f'<li><span class="swatch" style="background:{colour}">{mark}</span>'
        f"{label} ({totals[state]})</li>"
        for state, (label, mark, colour) in _LOOK.items()
    )
    first, last = ledger.days[0], ledger.days[-1]
    generated = ledger.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>logstream completeness {first.isoformat()} to {last.isoformat()}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>Completeness: {first.isoformat()} to {last.isoformat()} (UTC days)</h1>
<p class="meta">Generated {generated} from the reconciler's stored reports and the
quarantine. Each cell: CloudWatch events (top), events in the index when checked
(below), re-shipped and still missing ones; hover for details.</p>
<ul class="legend">{legend}</ul>
{_heatmap(ledger)}
<h2>Quarantine by reason</h2>
{_quarantine(ledger)}
</body>
</html>
"""
