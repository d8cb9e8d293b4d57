"""The report's one stylesheet, inline in the page: its colours are the app's, from `palette`.

Charts carry their own colours (they are the app's Altair charts, see figures.py); this sheet
only sizes them so a wide one shrinks with a narrow window instead of overflowing it.
"""

from __future__ import annotations

from string import Template

from mnist_core.charts import palette

CSS = Template("""
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:$text;max-width:1100px;
margin:2rem auto;padding:0 1rem;line-height:1.45}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid $rule;padding-bottom:.2rem;margin-top:2rem}
.muted{color:$muted}table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid $border;padding:.25rem .5rem;text-align:left}
td.num{text-align:right}table.kv th{background:$header;width:14rem}
table.cm td{text-align:center;min-width:2.4rem;font-variant-numeric:tabular-nums}
table.cm caption{caption-side:bottom;color:$muted;font-size:.85rem;padding-top:.3rem}
.bar{display:inline-block;height:.7rem;background:$bar;vertical-align:middle}
.verdict{padding:.6rem .9rem;border-radius:6px;margin:.5rem 0}
.verdict ul{margin:.3rem 0 0}.pass{background:$pass_fill;border-left:5px solid $pass_line}
.fail{background:$fail_fill;border-left:5px solid $fail_line}.warn{background:$warn_fill;
border-left:5px solid $warn_line;padding:.6rem .9rem;border-radius:6px}
.row{display:flex;flex-wrap:wrap;gap:1rem}svg.chart{max-width:100%;height:auto}
img.grid{image-rendering:pixelated;border:1px solid $image_border}
@media print{h2{break-after:avoid}table,svg{break-inside:avoid}}
""").substitute(
    text=palette.TEXT,
    rule=palette.RULE,
    muted=palette.MUTED_TEXT,
    border=palette.BORDER,
    header=palette.HEADER_FILL,
    bar=palette.BAR,
    pass_fill=palette.PASS_FILL,
    pass_line=palette.PASS,
    fail_fill=palette.FAIL_FILL,
    fail_line=palette.FAIL,
    warn_fill=palette.WARN_FILL,
    warn_line=palette.WARN,
    image_border=palette.IMAGE_BORDER,
)
