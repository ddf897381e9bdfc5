"""The survey app in a process of its own, as in a gunicorn worker, for the rate-limit tests that
take the limit's storage down: Flask-Limiter keeps what it learnt about its storage (dead, when to
look again) for the life of its process, so such a test must not share its process with others.

    python -m tests.survey_app.limiter_child CONFIG_JSON

reads one command a line on stdin and answers one line on stdout: `post` (a new phone opens the
form and sends it: the status of the POST) and `later SECONDS` (the clock moves on: `ok`).
"""

from __future__ import annotations

import json
import re
import sys
import time

import time_machine

from survey_app import create_app


def post(app, url: str) -> int:
    """A new phone opens the form and sends the overall rating; the POST's status."""
    client = app.test_client()
    page = client.get(url).get_data(as_text=True)
    fields = dict(re.findall(r'name="(csrf_token|submission_token)" value="([^"]+)"', page))
    return client.post(url, data={**fields, "q_overall": "5"}).status_code


def main() -> None:
    """Serve the test's commands until stdin closes."""
    config = json.loads(sys.argv[1])
    app = create_app(config)
    url = config.get("CHILD_SURVEY_URL", "/s/HCC-TP")
    for line in sys.stdin:
        command, *args = line.split()
        if command == "post":
            print(post(app, url), flush=True)
        elif command == "later":
            time_machine.travel(time.time() + float(args[0]), tick=True).start()
            print("ok", flush=True)


if __name__ == "__main__":
    main()
