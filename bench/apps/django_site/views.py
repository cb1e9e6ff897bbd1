"""The one view: the same 100 rows as the Flask table app, in Django's template language."""

from django.shortcuts import render
from django.template.loader import get_template

from table_data import ROWS, TITLE

# Compiled here, once (the cached loader keeps it), as the Flask app does.
get_template("table.html")


def table(request):
    """The HTML page: 100 rows through the compiled template."""
    return render(request, "table.html", {"title": TITLE, "rows": ROWS})
