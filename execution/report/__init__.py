"""Reports the trader reads: the daily execution report, the seed experiment report and their index.

Pages are self-contained HTML (charts inline as SVG, styles inline, no external resource), each
with a JSON file of the same numbers beside it. Rendering imports matplotlib and Jinja2 only
when a report is built.
"""
