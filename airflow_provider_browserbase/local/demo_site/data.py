"""The demo site's content, defined once so that pages and tests agree on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 8
DEMO_USERNAME = "demo"
# A published demo credential, not a secret: the site only exists on this machine.
DEMO_PASSWORD = "browserbase-local"  # noqa: S105
SESSION_COOKIE = "demo_session"
# A sign-in with a second factor that passed the password step and waits for its code.
PENDING_COOKIE = "demo_pending_sign_in"
CODE_DIGITS = 6
LOCAL_STORAGE_KEY = "demo_user"
REPORT_FILENAME = "report.csv"


@dataclass(frozen=True)
class Product:
    """
    One item of the listing.

    :param sku: Stock-keeping unit, unique; also the last part of the product's URL.
    :param name: Display name.
    :param price: Price in US dollars, with at most two decimals.
    """

    sku: str
    name: str
    price: float

    @property
    def path(self) -> str:
        """The product page, relative to the site's root."""
        return f"products/{self.sku}"

    def record(self, site_url: str) -> dict[str, Any]:
        """What a scraper of the listing served at ``site_url`` should extract for this product."""
        return {"sku": self.sku, "name": self.name, "price": self.price, "url": f"{site_url}/{self.path}"}


PRODUCTS: tuple[Product, ...] = (
    Product("BB-1001", "Walnut desk organiser", 34.0),
    Product("BB-1002", "Brass desk lamp", 89.5),
    Product("BB-1003", "Linen notebook, A5", 12.99),
    Product("BB-1004", "Fountain pen, medium nib", 48.0),
    Product("BB-1005", "Ink bottle, midnight blue", 9.75),
    Product("BB-1006", "Cork pin board", 27.3),
    Product("BB-1007", "Steel ruler, 30 cm", 6.2),
    Product("BB-1008", "Paper clips & tray", 4.99),
    Product("BB-1009", "Mechanical pencil 0.5", 15.0),
    Product("BB-1010", "Graphite leads, HB", 2.49),
    Product("BB-1011", "Felt laptop sleeve", 39.9),
    Product("BB-1012", "Monitor riser, oak", 64.0),
    Product("BB-1013", "Cable tidy set", 11.11),
    Product("BB-1014", "Wireless keyboard", 79.0),
    Product("BB-1015", "Ergonomic mouse", 45.45),
    Product("BB-1016", "Desk mat, wool", 29.0),
    Product("BB-1017", "Stapler, heavy duty", 22.8),
    Product("BB-1018", "Staples, box of 5000", 3.6),
    Product("BB-1019", "Letter tray, stackable", 18.25),
    Product("BB-1020", "Whiteboard, 60 × 45 cm", 54.99),
    Product("BB-1021", "Whiteboard markers <4>", 8.4),
    Product("BB-1022", 'Sticky notes "neon"', 5.55),
    Product("BB-1023", "Archive box", 7.0),
    Product("BB-1024", "Label maker", 69.95),
)
PAGE_COUNT = -(-len(PRODUCTS) // PAGE_SIZE)


def page_of_products(page: int) -> tuple[Product, ...]:
    """The products listed on ``page`` (1-based); empty outside ``1..PAGE_COUNT``."""
    if page < 1:
        return ()
    return PRODUCTS[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]


def product_records(site_url: str) -> list[dict[str, Any]]:
    """Every product, in listing order, as a scraper of the site served at ``site_url`` should return it."""
    return [product.record(site_url.rstrip("/")) for product in PRODUCTS]


def _report_csv() -> bytes:
    lines = ["sku,name,price_usd"]
    for product in PRODUCTS:
        name = '"' + product.name.replace('"', '""') + '"'
        lines.append(f"{product.sku},{name},{product.price:.2f}")
    return ("\r\n".join(lines) + "\r\n").encode()


REPORT_CSV: bytes = _report_csv()
