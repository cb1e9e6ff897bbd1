"""The WSGI entry point: `greenhorn wsgi:app` imports this module and calls `app`."""
from app import app

if __name__ == "__main__":
    app.run()
