"""A real SMTP server for herald's tests (aiosmtpd), on 127.0.0.1.

Usage: python3 smtp_server.py OUTDIR
Prints the port it listens on, then writes every accepted message to
OUTDIR/<n>.json: the envelope, the raw message, and the message as Python's
email parser reads it (decoded headers, each MIME part with its type,
charset, transfer encoding and decoded text), so the Rust test checks what a
receiving mail system would see.

Recipients script the answers: `reject-...` gets 550 at RCPT, `later-...`
gets 451 at RCPT, `drop-...` has its connection closed after DATA without a
reply (the message may or may not have been queued).
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Recorder:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("reject-"):
            return "550 5.1.1 Mailbox unavailable"
        if address.startswith("later-"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if any(rcpt.startswith("drop-") for rcpt in envelope.rcpt_tos):
            # Gone before the reply: the client cannot know whether the
            # message was queued. The 250 below is never written.
            server.transport.abort()
            return "250 OK"
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "transfer_encoding": part.get("Content-Transfer-Encoding"),
                "text": part.get_content(),
            })
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", errors="replace"),
            "content_type": message.get_content_type(),
            "headers": {name: str(value) for name, value in message.items()},
            "parts": parts,
        }
        self.count += 1
        path = os.path.join(self.outdir, "%d.json" % self.count)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.replace(path + ".tmp", path)
        return "250 2.0.0 Ok: queued"


async def main(outdir):
    handler = Recorder(outdir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, enable_SMTPUTF8=True, hostname="fake.test"),
        host="127.0.0.1",
        port=0,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
