#!/usr/bin/env python3
"""Publish case events to preauth-worker the way a practice-management integration should.

    python3 publish_case.py CASE.json [CASE.json ...]

Environment: PREAUTH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2F) and
PREAUTH_CASES_EXCHANGE (default preauth.cases). Needs pika (pip install pika).

Each event goes to the cases exchange with the routing key its `kind` requires (case.submitted
or case.appeal), message_id = event_id, a timestamp, content type application/json and
persistent delivery, as a mandatory message with publisher confirms: a case is sent only when
the broker has confirmed it and a queue has taken it. Exit 0 when every file was sent, 65 when a
file is not a case event, 69 when the broker refused or could not route a message.
"""

import json
import os
import sys
import time

import pika
from pika.exceptions import NackError, UnroutableError

ROUTING_KEYS = {"submission": "case.submitted", "appeal": "case.appeal"}


def main(paths):
    url = os.environ.get("PREAUTH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    exchange = os.environ.get("PREAUTH_CASES_EXCHANGE", "preauth.cases")
    if not paths:
        print("usage: publish_case.py CASE.json [CASE.json ...]", file=sys.stderr)
        return 64
    events = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                body = f.read()
            event = json.loads(body)
            routing_key = ROUTING_KEYS[event["kind"]]
            event_id = event["event_id"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            print(f"{path}: not a case event ({type(e).__name__})", file=sys.stderr)
            return 65
        events.append((path, body, routing_key, event_id))

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    status = 0
    for path, body, routing_key, event_id in events:
        properties = pika.BasicProperties(
            message_id=event_id,
            timestamp=int(time.time()),
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
        )
        try:
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)
            print(f"{path}: sent {event_id} as {routing_key}")
        except UnroutableError:
            print(f"{path}: no queue is bound for {routing_key} on {exchange}", file=sys.stderr)
            status = 69
        except NackError:
            print(f"{path}: the broker refused the message", file=sys.stderr)
            status = 69
    connection.close()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
