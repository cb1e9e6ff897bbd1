"""The Flask hello example: the smallest real Flask app greenhorn serves.

Run it with `make run` (from the repository root), or by hand:

    cd examples/flask_hello && ../../greenhorn -w 3 -b 0.0.0.0:5000 wsgi:app
"""
from flask import Flask, jsonify, redirect, request, make_response, url_for

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello from Flask App"


@app.route("/hello/<name>")
def hello_name(name):
    return f"Hello, {name}!"


@app.route("/json")
def as_json():
    return jsonify(message="Hello from Flask App", items=[1, 2, 3])


@app.route("/old")
def old():
    return redirect(url_for("hello"))


@app.route("/cookie")
def set_cookie():
    resp = make_response("cookie set")
    resp.set_cookie("flavour", "oatmeal")
    return resp


@app.route("/whoami")
def whoami():
    return f"flavour={request.cookies.get('flavour', 'none')}"


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return f"Thanks, {request.form.get('name', 'stranger')}!"
    return '<form method="post"><input name="name"><button>Send</button></form>'


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
