"""A Flask app of the size people run: a Jinja2 page and a JSON API.

Serve it as `flask_table:app` with bench/apps as the working directory.

- `/`      renders templates/table.html, a 100-row HTML table (about 20 KB),
           through flask.render_template: autoescaping, a filter per cell,
           Flask's context processors, as a real page does;
- `/json`  returns the same 100 rows as JSON (flask.jsonify).

The template is compiled once, when the module is imported (the worker's
start), not on the first request, so no measured request pays for it.
"""

from flask import Flask, jsonify, render_template

from table_data import ROWS, TITLE

app = Flask(__name__)
# Compiled here, once; render_template finds it in the environment's cache.
TEMPLATE = app.jinja_env.get_template("table.html")


@app.route("/")
def table():
    """The HTML page: 100 rows through the compiled template."""
    return render_template("table.html", title=TITLE, rows=ROWS)


@app.route("/json")
def as_json():
    """The same rows as a JSON document."""
    return jsonify(title=TITLE, count=len(ROWS), rows=ROWS)
