"""What the original system ran: Flask on its development server, the same JSON (bench only).

Run: python bench/flask_app.py PORT (threaded dev server on 127.0.0.1).
"""

from __future__ import annotations

import sys
import time

from flask import Flask, jsonify

_STARTED = time.monotonic()
app = Flask(__name__)


@app.get("/_health")
def health():
    return jsonify(status="ok", version="bench", uptime=round(time.monotonic() - _STARTED, 3))


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
