"""A fake Twilio REST server on 127.0.0.1 for tests and the benchmark: it records messages and
can be told to fail (429, 5xx, timeouts, dropped connections, Twilio error codes).

    fake = FakeTwilio().start()                 # fake.base_url -> TWILIO_API_BASE_URL
    fake.fail_next(429, 500, ("error", 21211), ("timeout", True), "disconnect")
    fake.messages                               # what was accepted, oldest first
    python -m sms_gateway.fake_twilio --port 0  # standalone (prints its base URL)

A test in another process drives it over HTTP, with FakeTwilioControl(base_url): the same
failure script (`fail_next`), a share of creations failing at random (`fail_randomly`), a delay,
`reset`, and `record()`: the messages accepted, the requests counted and every fault served.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections import deque
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ACCOUNT_SID = "AC" + "f" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
MESSAGING_SERVICE_SID = "MG" + "e" * 32


class _Server(ThreadingHTTPServer):
    """A client that went away mid-answer (a killed worker, a timeout) is not an error here."""

    def handle_error(self, request, client_address):
        """Stay quiet about dropped clients; report anything else as the server does."""

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeTwilio:
    """The Messages resource of Twilio's REST API, in memory, with a failure script."""

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        port: int = 0,
        timeout_seconds: float = 2.0,
    ):
        self.account_sid, self.auth_token = account_sid, auth_token
        self.timeout_seconds = timeout_seconds
        self.delay_seconds = 0.0  # added to every creation: makes a batch slow enough to kill
        self.messages: list[dict] = []
        self.requests = 0
        self.faults: list = []  # every fault served, in order
        self.random_actions: list = []  # with random_rate: failures drawn for any creation
        self.random_rate = 0.0
        self.rng = random.Random(0)
        self.lock = threading.Lock()
        self.script: deque = deque()
        self.server = _Server(("127.0.0.1", port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The URL to give the twilio client instead of https://api.twilio.com."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeTwilio:
        """Serve in a background thread."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, *actions) -> None:
        """Script the next message creations: an HTTP status (429, 500, 503), ("error", code[,
        message]),
        ("timeout", recorded: bool), or "disconnect"; then creations succeed again."""
        with self.lock:
            self.script.extend(actions)

    def fail_randomly(self, rate: float, actions: list, seed: int = 0) -> None:
        """After the script, fail this share of creations with an action drawn from `actions`."""
        with self.lock:
            self.random_rate, self.random_actions = rate, [_action(a) for a in actions]
            self.rng = random.Random(seed)

    def next_action(self):
        """The scripted or drawn action for one creation (None: accept it); counts requests."""
        with self.lock:
            self.requests += 1
            if self.script:
                action = self.script.popleft()
            elif self.random_actions and self.rng.random() < self.random_rate:
                action = self.rng.choice(self.random_actions)
            else:
                return None
            self.faults.append(action)
            return action

    def record_view(self) -> dict:
        """What a test reads from outside: messages, request count, faults served, script left."""
        with self.lock:
            return {
                "messages": list(self.messages),
                "requests": self.requests,
                "faults": [list(a) if isinstance(a, tuple) else a for a in self.faults],
                "script_left": len(self.script),
            }

    def sent_to(self, to: str) -> list[dict]:
        """The messages accepted for one number."""
        with self.lock:
            return [m for m in self.messages if m["to"] == to]

    def reset(self) -> None:
        """Forget messages and the failure script."""
        with self.lock:
            self.messages.clear()
            self.script.clear()
            self.faults.clear()
            self.requests = 0
            self.delay_seconds = 0.0
            self.random_rate, self.random_actions = 0.0, []

    def record(self, form: dict) -> dict:
        """Accept one message the way Twilio does (status queued)."""
        now = format_datetime(datetime.now(UTC), usegmt=True)
        sid = "SM" + uuid.uuid4().hex
        message = {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "status": "queued",
            "status_callback": form.get("StatusCallback"),
            "direction": "outbound-api",
            "num_segments": "1",
            "num_media": "0",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {},
        }
        with self.lock:
            self.messages.append(message)
        return message


CONTROL = "/_fake"  # the control and record endpoints a test in another process uses


def _action(action):
    """A failure action from JSON (lists) as fail_next takes it (tuples)."""
    return tuple(action) if isinstance(action, list) else action


class FakeTwilioControl:
    """Drive a fake Twilio running in another process, over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _post(self, command: str, data: dict) -> None:
        request = urllib.request.Request(
            f"{self.base_url}{CONTROL}/{command}",
            data=json.dumps(data).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def fail_next(self, *actions) -> None:
        """Script the next creations' failures (as FakeTwilio.fail_next)."""
        self._post("fail", {"actions": list(actions)})

    def fail_randomly(self, rate: float, actions: list, seed: int = 0) -> None:
        """Fail a share of creations at random (as FakeTwilio.fail_randomly)."""
        self._post("fail-randomly", {"rate": rate, "actions": actions, "seed": seed})

    def delay(self, seconds: float) -> None:
        """Add a delay to every creation."""
        self._post("delay", {"seconds": seconds})

    def reset(self) -> None:
        """Forget messages, faults and scripts."""
        self._post("reset", {})

    def record(self) -> dict:
        """Messages accepted, requests counted, faults served, script left."""
        with urllib.request.urlopen(f"{self.base_url}{CONTROL}/record", timeout=10) as answer:
            return json.loads(answer.read())


def _handler(fake: FakeTwilio):
    prefix = f"/2010-04-01/Accounts/{fake.account_sid}/Messages"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as against the real API

        def log_message(self, *args):  # quiet: the requests carry phone numbers
            pass

        def setup(self):
            super().setup()
            # headers and body go out in separate writes: without this, Nagle's algorithm and
            # the client's delayed ACK add ~40 ms to every keep-alive request
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _reply(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, code: int | None, message: str) -> None:
            self._reply(
                status,
                {
                    "code": code,
                    "message": message,
                    "status": status,
                    "more_info": f"https://www.twilio.com/docs/errors/{code}",
                },
            )

        def _authorized(self) -> bool:
            expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {expected}":
                return True
            self._error(401, 20003, "Authenticate")
            return False

        def do_GET(self):  # noqa: N802
            url = urlsplit(self.path)
            if url.path == CONTROL + "/record":
                return self._reply(200, fake.record_view())
            if not self._authorized():
                return
            if url.path != prefix + ".json":
                return self._error(404, 20404, "The requested resource was not found")
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            with fake.lock:
                found = [
                    m
                    for m in reversed(fake.messages)
                    if "To" not in query or m["to"] == query["To"]
                ]
            size = int(query.get("PageSize", 50))
            self._reply(
                200,
                {
                    "messages": found[:size],
                    "page": 0,
                    "page_size": size,
                    "first_page_uri": url.path,
                    "next_page_uri": None,
                    "previous_page_uri": None,
                    "uri": self.path,
                    "start": 0,
                    "end": min(size, len(found)) - 1,
                },
            )

        def _control(self, body: bytes):
            command = urlsplit(self.path).path[len(CONTROL) + 1 :]
            data = json.loads(body or b"{}")
            if command == "fail":
                fake.fail_next(*[_action(a) for a in data["actions"]])
            elif command == "fail-randomly":
                fake.fail_randomly(data["rate"], data["actions"], data.get("seed", 0))
            elif command == "delay":
                fake.delay_seconds = float(data["seconds"])
            elif command == "reset":
                fake.reset()
            else:
                return self._error(404, None, f"unknown control command {command!r}")
            return self._reply(200, {"ok": True})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.startswith(CONTROL + "/"):
                return self._control(body)
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            action = fake.next_action()
            if not self._authorized():
                return
            if urlsplit(self.path).path != prefix + ".json":
                return self._error(404, 20404, "The requested resource was not found")
            if not form.get("To") or not form.get("Body"):
                return self._error(400, 21604, "A 'To' phone number and a 'Body' are required")
            if fake.delay_seconds:
                time.sleep(fake.delay_seconds)
            if action is None:
                return self._reply(201, fake.record(form))
            if isinstance(action, int):
                return self._error(action, 20429 if action == 429 else 20500, f"HTTP {action}")
            kind, *arg = action if isinstance(action, tuple) else (action,)
            if kind == "error":  # ("error", code) or ("error", code, Twilio's message text)
                return self._error(
                    400, arg[0], arg[1] if len(arg) > 1 else f"Twilio error {arg[0]}"
                )
            if kind == "timeout":
                message = fake.record(form) if (arg and arg[0]) else None
                time.sleep(fake.timeout_seconds)
                try:
                    return self._reply(201, message or {"code": 20500, "message": "late"})
                except OSError:
                    return None
            if kind == "disconnect":
                self.close_connection = True
                self.connection.close()
                return None
            raise ValueError(f"unknown fake action {action!r}")

    return Handler


def main() -> None:
    """Run the fake standalone (the benchmark does), printing its base URL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds a 'timeout' hangs")
    args = parser.parse_args()
    fake = FakeTwilio(port=args.port, timeout_seconds=args.timeout)
    print(fake.base_url, flush=True)
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
