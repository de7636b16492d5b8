"""What the 承诺达标合格证 API answers (see `tracing/certificate.py`)."""
from __future__ import annotations

from pydantic import Field

from gi_trace.schemas import Public


class CertificatePublic(Public):
    """A 承诺达标合格证 as printed: the fields of the MARA template, the commitment and its basis."""

    product: str
    quantity_kg: float
    seller: str = Field(description="Producer/seller name (生产者/销售者)")
    contact: str
    origin: str = Field(description="Towns the goods were harvested in, by name")
    issued_on: str = Field(description="Local date of the sale (YYYY-MM-DD)")
    buyer: str = Field(description="The recipient as recorded (收货方)")
    commitment: str
    basis: str = Field(description="委托检测, 自我检测, 内部质量控制 or 自我承诺达标")
    batch_code: str
    display_code: str
    trace_url: str
    pdf_url: str = Field(description="The A6 PDF of this certificate")
