"""SMTP: our client (``Mailer``, built once from the settings by ``get_mailer``; the staff channel is
app.notify.email). ``QZBG_SMTP_URL``: STARTTLS on 587 (``smtp://``, the default ``starttls=1``) or
implicit TLS on 465 (``smtps://``); AUTH when the URL carries a user. The server's certificate is verified
against the system's CAs, or against ``QZBG_SMTP_CA_FILE`` (a private CA, or the test's self-signed one);
verification is never turned off. ``starttls=0`` sends in clear and is meant for a relay on the same host.

Each message is plain text with an HTML alternative and a Message-ID made from its outbox row's id, so a
message sent again (at-least-once delivery) carries the same id and mail clients show it once.

Outcomes: a 4xx answer (421, 451 ...), a dropped connection, a timeout, a refused connection, a TLS or AUTH
failure are retried later; a 5xx answer to the sender, a recipient or the data (550, 553 ...) is permanent.
"""

from __future__ import annotations

import email.utils
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from app.clients.outcomes import GiveUp, Retry
from app.config import Settings


def _classify(code: int, where: str) -> Exception:
    return Retry(f"smtp:{where}:{code}") if 400 <= code < 500 else GiveUp(f"smtp:{where}:{code}")


class Mailer:
    """Our class around ``smtplib``: one method, each failure a ``Retry`` or a ``GiveUp``."""

    def __init__(self, url: str, sender: str | None, ca_file: Path | None, timeout: float) -> None:
        parts = urlsplit(url)
        self.implicit_tls = parts.scheme == "smtps"
        self.starttls = not self.implicit_tls and parse_qs(parts.query).get("starttls", ["1"])[-1] in (
            "1", "true", "yes", "on")
        self.host = parts.hostname or ""
        self.port = parts.port or (465 if self.implicit_tls else 587)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender or (self.username if self.username and "@" in self.username else f"qzbg@{self.host}")
        self.domain = self.sender.rsplit("@", 1)[-1]
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    def message_id(self, key: object) -> str:
        return f"<{key}@{self.domain}>"

    def build(self, to: str, subject: str, text: str, html: str, key: object) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate(localtime=False)
        message["Message-ID"] = self.message_id(key)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text)
        message.add_alternative(html, subtype="html")
        return message

    def send(self, message: EmailMessage) -> None:
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=self.context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise _classify(max(codes) if codes else 550, "rcpt") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise Retry(f"smtp:auth:{exc.smtp_code}") from None  # wrong credentials: an admin fixes them
        except smtplib.SMTPSenderRefused as exc:
            raise _classify(exc.smtp_code, "mail") from None
        except smtplib.SMTPDataError as exc:
            raise _classify(exc.smtp_code, "data") from None
        except smtplib.SMTPNotSupportedError:
            raise Retry("smtp:starttls_unsupported") from None  # never falls back to clear text
        except smtplib.SMTPServerDisconnected:
            raise Retry("smtp:disconnected") from None
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, "smtp") from None
        except (ssl.SSLError, ssl.CertificateError):
            raise Retry("smtp:tls") from None
        except TimeoutError:
            raise Retry("smtp:timeout") from None
        except (OSError, smtplib.SMTPException):
            raise Retry("smtp:unreachable") from None


def get_mailer() -> Mailer:
    mailer: Mailer | None = current_app.extensions.get("qzbg.mailer")
    if mailer is None:
        s: Settings = current_app.config["QZBG"]
        assert s.smtp_url
        mailer = Mailer(s.smtp_url, s.smtp_from, s.smtp_ca_file, s.notify_timeout)
        current_app.extensions["qzbg.mailer"] = mailer
    return mailer
