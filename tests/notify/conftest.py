"""Fakes for the staff channels, each on 127.0.0.1 speaking the real protocol: the fake WeChat/WeCom server, a
fake Tencent Cloud SMS endpoint, and a real SMTP server (aiosmtpd) with STARTTLS and AUTH under a self-signed
certificate made here with ``cryptography``; and the staff fixtures of tests/auth for the outbox pages."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.clients.fake_sms import FakeTencentSms, FakeTencentSmsServer
from app.clients.fake_wechat import FakeWeChat, FakeWeChatServer
from app.extensions import db
from tests.auth.conftest import logged_in, staff  # noqa: F401 - fixtures
from tests.factories import create_staff

SMTP_USER, SMTP_PASSWORD = "qzbg-mailer", "smtp password 1"  # noqa: S105 - the test server's


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, PEM files in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclasses.dataclass
class Mailbox:
    """The SMTP server's handler: what it received, and the answers it is told to give."""

    received: list[EmailMessage] = dataclasses.field(default_factory=list)
    raw: list[bytes] = dataclasses.field(default_factory=list)
    rcpt_answer: str | None = None  # e.g. "550 5.1.1 no such user"
    data_answer: str | None = None  # e.g. "451 4.3.0 try later"
    hang_seconds: float = 0.0  # how long DATA's answer waits (past the client's timeout), then accepts
    drop_data: bool = False  # hang up once the message's data is in, before answering (nothing accepted)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.rcpt_answer:
            return self.rcpt_answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.data_answer:
            return self.data_answer
        if self.drop_data:
            server.transport.close()  # the connection drops mid-DATA: the client never hears an answer
            return "421 4.4.2 Connection dropped"
        if self.hang_seconds:
            # A server that is slow to answer but acts all the same: the client has given up by then.
            await asyncio.sleep(self.hang_seconds)
        assert session.ssl is not None, "a message arrived without TLS"
        self.raw.append(envelope.original_content)
        self.received.append(message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = data.login.decode() == SMTP_USER and data.password.decode() == SMTP_PASSWORD
    return AuthResult(success=ok)


@dataclasses.dataclass
class SmtpServer:
    """aiosmtpd on 127.0.0.1 with STARTTLS and AUTH required; ``off()`` closes the port (connections refused)
    and ``on()`` opens it again, the same port and the same mailbox."""

    mailbox: Mailbox
    port: int
    ca_file: Path
    key_file: Path
    controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://{SMTP_USER}:{SMTP_PASSWORD.replace(' ', '%20')}@127.0.0.1:{self.port}?starttls=1"

    def on(self) -> None:
        import ssl

        if self.controller is not None:
            return
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.ca_file, self.key_file)
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, tls_context=context,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     authenticator=_authenticate)
        self.controller.start()

    def off(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    cert, key = self_signed(tmp_path)
    server = SmtpServer(Mailbox(), _free_port(), cert, key)
    server.on()
    try:
        yield server
    finally:
        server.off()


@pytest.fixture
def sms() -> Iterator[FakeTencentSms]:
    state = FakeTencentSms()
    with FakeTencentSmsServer(state) as server:
        state.url = server.url  # type: ignore[attr-defined]
        yield state


@pytest.fixture
def wecom() -> Iterator[FakeWeChat]:
    state = FakeWeChat()
    with FakeWeChatServer(state):
        yield state


def channel_settings(wecom: FakeWeChat | None = None, smtp: SmtpServer | None = None,
                     sms: FakeTencentSms | None = None) -> dict[str, Any]:
    """Settings that point each given channel at its fake."""
    settings: dict[str, Any] = {"public_url": "https://qzbg.example.org", "notify_timeout": 3}
    if wecom is not None:
        settings.update(wecom_corpid=wecom.wecom_corpid, wecom_secret=wecom.wecom_secret,
                        wecom_agentid=str(wecom.wecom_agentid), wecom_api_base=wecom.url)
    if smtp is not None:
        settings.update(smtp_url=smtp.url, smtp_from="qzbg@example.org", smtp_ca_file=smtp.ca_file)
    if sms is not None:
        settings.update(sms_secret_id=sms.secret_id, sms_secret_key=sms.secret_key, sms_sdk_app_id=sms.sdk_app_id,
                        sms_sign_name=sms.sign_name, sms_template_id="2000001",
                        sms_endpoint=sms.url)  # type: ignore[attr-defined]
    return settings


def staff_member(username: str, *, role: str = "prosecutor", wecom: str | None = None, email: str | None = None,
          mobile: str | None = None, **kwargs: Any) -> Any:
    """A staff account with the contact fields given (as ``flask users create --wecom-userid --email --mobile``)."""
    user = create_staff(username, role=role, **kwargs)
    user.wecom_userid, user.email = wecom, email
    if mobile:
        user.seal("mobile_data", mobile)
    db.session.flush()
    return user
