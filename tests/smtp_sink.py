#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd, Debian's python3-aiosmtpd).

Usage: smtp_sink.py DIR. Prints the port it listens on (127.0.0.1), then serves
until killed. Every accepted message is stored as DIR/NNNN.eml (raw) and
DIR/NNNN.json (envelope and the decoded subject, text, html, Message-ID and
attachment names, as a mail client would show them, and the SHA-256 of each
attachment's decoded bytes).
While DIR/refuse exists it answers 451 (try again later); while DIR/reject
exists, 550 (permanent refusal); while DIR/slow exists, it waits that many
seconds (the file's content) before it answers each message.
"""
import asyncio
import hashlib
import json
import os
import socket
import sys
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        slow = os.path.join(self.dir, "slow")
        if os.path.exists(slow):
            with open(slow) as f:
                await asyncio.sleep(float(f.read().strip() or "1"))
        if os.path.exists(os.path.join(self.dir, "refuse")):
            return "451 4.3.0 Mailbox busy, try again later"
        if os.path.exists(os.path.join(self.dir, "reject")):
            return "550 5.1.1 Mailbox unavailable"
        self.n += 1
        base = os.path.join(self.dir, "%04d" % self.n)
        raw = envelope.original_content
        msg = BytesParser(policy=policy.default).parsebytes(raw)
        text = msg.get_body(("plain",))
        html = msg.get_body(("html",))
        info = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": str(msg["Subject"]),
            "to_header": str(msg["To"]),
            "message_id": str(msg["Message-ID"]),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "attachments": [a.get_filename() for a in msg.iter_attachments()],
            "attachment_sha256": [
                hashlib.sha256(a.get_payload(decode=True)).hexdigest()
                for a in msg.iter_attachments()
            ],
        }
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(info, f, ensure_ascii=False)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 OK"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    directory = sys.argv[1]
    os.makedirs(directory, exist_ok=True)
    port = free_port()
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print(port, flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
