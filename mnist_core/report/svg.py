"""The app's Altair charts as inline SVG for the HTML report, rendered on this machine by vl-convert.

vl-convert carries its own Vega and Vega-Lite and lays text out with the locally installed
fonts, so a chart renders with no browser and no network: the report prints the very chart
definitions the pages draw. The specs hold their data inline; the `$schema` URL in them is a
label that vl-convert never fetches (tests/test_report.py renders with connections refused).
"""

from __future__ import annotations

import re

import altair as alt
import vl_convert as vlc

from mnist_core.text import escape

# The Vega-Lite version Altair writes its specs for: vl-convert renders with the same one (and
# says so plainly if an Altair upgrade ever outruns the versions it bundles).
VEGA_LITE = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])

# Inside an HTML page an <svg> needs no namespace declaration, and dropping it leaves the report
# without a single URL (its offline check looks for any).
_NAMESPACES = re.compile(r'\s+xmlns(?::\w+)?="[^"]*"')


def chart_svg(chart: alt.TopLevelMixin, label: str) -> str:
    """`chart` as one inline `<svg class="chart">` element, `label` its accessible name."""
    # Altair's schema validation would add about a tenth to the report's time, for specs that the
    # pages already validate when they draw these very charts (and the charts' tests do).
    svg = vlc.vegalite_to_svg(chart.to_dict(validate=False), vl_version=VEGA_LITE)
    end = svg.index(">")  # the root element's opening tag
    name = escape(label)
    root = _NAMESPACES.sub("", svg[:end]).replace(
        'class="marks"', f'class="chart" role="img" aria-label="{name}"'
    )
    return root + svg[end:]
