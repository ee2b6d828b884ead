"""The printable sheet of trainee accounts (``/training/accounts``): per account its user name, password and a QR
code of its ``otpauth://`` URI, so a trainee scans it with an authenticator app instead of typing 32 characters.

The codes are inline SVG drawn here (``qrcode``'s path image): nothing is fetched from anywhere, and the secrets
never leave the page (no image URL that could be cached or logged carries them).
"""

from __future__ import annotations

import dataclasses

import qrcode
import qrcode.constants
import qrcode.image.svg
from markupsafe import Markup

from app.demo.accounts import DemoAccount, demo_accounts


class _InlineSvg(qrcode.image.svg.SvgPathFillImage):
    """A QR code as an ``<svg>`` element for an HTML page: sized by the stylesheet (no width or height of its own)
    and without the library's fixed ``id`` (a sheet has many codes, and ids must be unique)."""

    def _svg(self, viewBox: str | None = None, **kwargs: str) -> qrcode.image.svg.ET.Element:  # noqa: N803 - the library's name
        svg = super()._svg(viewBox=viewBox, **kwargs)
        for size in ("width", "height", "version"):
            svg.attrib.pop(size, None)
        return svg

    def process(self) -> None:
        super().process()
        if self.path is not None:
            self.path.attrib.pop("id", None)


def qr_svg(text: str, label: str) -> Markup:
    """``text`` as an inline SVG QR code, labelled ``label`` for screen readers."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=2)
    code.add_data(text)
    image = code.make_image(image_factory=_InlineSvg, **{"role": "img", "aria-label": label, "class": "totp-code"})
    return Markup(image.to_string(encoding="unicode"))  # noqa: S704 - built by ElementTree, which escapes


@dataclasses.dataclass(frozen=True)
class AccountCard:
    account: DemoAccount
    qr: Markup | None  # None: the role has no second factor (a member unit's liaison)


def cards(secret_key: str) -> tuple[list[AccountCard], list[AccountCard]]:
    """(the trainees' accounts, the trainer's own): each with its QR code."""
    made = [AccountCard(account, qr_svg(account.otpauth_uri, f"{account.username} 的两步验证二维码")
                        if account.otpauth_uri else None)
            for account in demo_accounts(secret_key)]
    return ([card for card in made if card.account.role != "trainer"],
            [card for card in made if card.account.role == "trainer"])
