"""factory-boy factories; their session is the test's (bound by the `session` fixture)."""
from __future__ import annotations

import itertools
import random
from datetime import date

import factory
from factory.alchemy import SQLAlchemyModelFactory
from sqlmodel import select
from werkzeug.security import generate_password_hash

from gi_trace.accounts.models import User
from gi_trace.authorisation.models import AuthorisationDecision
from gi_trace.registry.models import OutputRecord, Plot, Producer, ProducerProduct, Product, Trademark
from gi_trace.registry.reference import GOJI_SLUG
from gi_trace.registry.uscc import ALPHABET, check_character

_session = None
_FACTORIES: list[type] = []
# Hashing with the default scrypt costs ~50 ms; tests do not need that strength.
_PASSWORD_HASH = generate_password_hash("password123", method="pbkdf2:sha256:1000")
_counter = itertools.count(1)


def bind(session) -> None:
    """Point every factory at the test's session (None to unbind)."""
    global _session
    _session = session
    for f in _FACTORIES:
        f._meta.sqlalchemy_session = session


def valid_uscc(seed: int | None = None) -> str:
    """A USCC with a correct check character (a farmers' cooperative in 中宁县)."""
    rnd = random.Random(seed if seed is not None else next(_counter))
    body = "93640521" + "".join(rnd.choice(ALPHABET) for _ in range(9))
    return body + check_character(body)


def goji(session=None) -> Product:
    """The preloaded 中宁枸杞 product."""
    return (session or _session).exec(select(Product).where(Product.slug == GOJI_SLUG)).one()


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None
        sqlalchemy_session_persistence = "flush"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _FACTORIES.append(cls)


class ProducerFactory(BaseFactory):
    class Meta:
        model = Producer

    uscc = factory.Sequence(lambda n: valid_uscc(n))
    name = factory.Sequence(lambda n: f"中宁县测试枸杞合作社{n}")
    kind = "cooperative"
    county_code = "640521"
    town_code = "640521100"  # 宁安镇, protected

    @factory.post_generation
    def products(obj, create, extracted, **kwargs):
        """Register the producer for products (default: 中宁枸杞)."""
        slugs = extracted if extracted is not None else [GOJI_SLUG]
        for slug in slugs:
            product = _session.exec(select(Product).where(Product.slug == slug)).one()
            _session.add(ProducerProduct(producer_id=obj.id, product_id=product.id))
        _session.flush()


class UserFactory(BaseFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    password_hash = _PASSWORD_HASH
    role = "regulator"
    display_name = factory.LazyAttribute(lambda o: o.username)


class PlotFactory(BaseFactory):
    class Meta:
        model = Plot

    producer_id = factory.LazyFunction(lambda: ProducerFactory().id)
    town_code = "640521100"
    area_mu = 20.0
    cultivar = "宁杞7号"


class TrademarkFactory(BaseFactory):
    class Meta:
        model = Trademark

    name = factory.Sequence(lambda n: f"红宝{n}")


class OutputFactory(BaseFactory):
    class Meta:
        model = OutputRecord

    product_id = factory.LazyFunction(lambda: goji().id)
    year = 2025
    output_kg = 5000.0
    output_value_yuan = 250000.0


class DecisionFactory(BaseFactory):
    class Meta:
        model = AuthorisationDecision

    product_id = factory.LazyFunction(lambda: goji().id)
    action = "approve"
    effective_date = date(2023, 1, 1)
    reference_no = factory.Sequence(lambda n: f"中宁地标许字〔2023〕{n}号")
    source = "test"


def producer_user(producer: Producer, username: str | None = None) -> User:
    """A producer account bound to `producer` (password: password123)."""
    return UserFactory(username=username or f"p{producer.id}", role="producer", producer_id=producer.id)


def authorised_producer(**kwargs) -> Producer:
    """A producer in a protected town with an approval in force since 2023-01-01."""
    producer = ProducerFactory(**kwargs)
    DecisionFactory(producer_id=producer.id)
    return producer


def gs1_prefix(producer: Producer, prefix: str):
    """Record a GS1 company prefix for the producer (as a regulator would), so it may register GTINs under it."""
    from gi_trace.registry.models import CompanyPrefix

    row = CompanyPrefix(producer_id=producer.id, prefix=prefix)
    _session.add(row)
    _session.flush()
    return row
def grower(**kwargs) -> Producer:
    """A producer with a plot in its (protected) base town: the evidence an approval needs."""
    producer = ProducerFactory(**kwargs)
    PlotFactory(producer_id=producer.id, town_code=producer.town_code)
    return producer
