"""The offline stakeholder report of a run: `document.build_report` assembles one self-contained
HTML page from its sections (sections.py, analyses.py), tables, stylesheet and the app's own
charts rendered to inline SVG (figures.py, svg.py)."""
