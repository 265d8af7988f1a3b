"""Column types that keep money exact and instants in UTC on SQLite and PostgreSQL.

* :class:`DecimalType`: ``TEXT`` holding ``str(Decimal)`` on SQLite (scale and value survive, e.g.
  ``"1234.5600"``), unconstrained ``NUMERIC`` on PostgreSQL. A float is refused with ``TypeError``.
* :class:`UtcDateTime`: stores the instant in UTC and always returns an aware UTC ``datetime``.
  A naive datetime is refused with ``ValueError`` (we cannot know what zone it meant).
* :class:`JsonType`: raw provider payloads and audit context. ``TEXT`` on SQLite, ``JSONB`` on
  PostgreSQL; the engine's JSON (de)serializer is :func:`json_dumps` / :func:`json_loads`, which
  keep ``Decimal`` numbers exact.

UUIDs use SQLAlchemy's own :class:`sqlalchemy.Uuid`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import simplejson
from sqlalchemy import JSON, DateTime, Numeric, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from dashtam_cli.domain.money import decimal_text

_SQLITE = "sqlite"


def _check_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"a decimal column cannot hold {value!r}")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    # float (and anything else) on the money path is a bug: refuse it loudly
    raise TypeError(f"a decimal column takes Decimal or int, not {type(value).__name__}")


class DecimalType(TypeDecorator[Decimal]):
    """An exact decimal: ``TEXT`` on SQLite, ``NUMERIC`` on PostgreSQL.

    Binds a real ``Decimal`` on PostgreSQL (psycopg rejects ``str`` for ``NUMERIC``) and
    its plain text on SQLite (:func:`decimal_text`: ``0.00000001``, never ``1E-8``); reads
    always return ``Decimal``. On SQLite the column is text: never
    ``SUM``, order or range-filter amounts in SQL there (it would be textual or float); total them
    in Python with ``Decimal``.
    """

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``TEXT`` on SQLite, ``NUMERIC`` (no precision, returning Decimal) elsewhere."""
        if dialect.name == _SQLITE:
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(Numeric(asdecimal=True))

    def bind_processor(self, dialect: Dialect) -> Any:
        """A single, cheap conversion per value (this runs a million times on a big ingest)."""
        if dialect.name == _SQLITE:

            def to_text(value: object) -> str | None:
                if value is None:
                    return None
                if type(value) is Decimal and value.is_finite():  # the hot path
                    text = str(value)
                    return text if "E" not in text else decimal_text(value)
                return decimal_text(_check_decimal(value))

            return to_text
        impl_processor = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)

        def to_decimal(value: object) -> Any:
            if value is None:
                return None
            checked = _check_decimal(value)
            return impl_processor(checked) if impl_processor else checked

        return to_decimal

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """Always hand back ``Decimal`` (SQLite stores the exact text)."""
        if dialect.name == _SQLITE:

            def from_text(value: object) -> Decimal | None:
                return None if value is None else Decimal(str(value))

            return from_text
        impl_processor = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def from_numeric(value: object) -> Decimal | None:
            if impl_processor is not None:
                value = impl_processor(value)
            if value is None:
                return None
            return value if isinstance(value, Decimal) else Decimal(str(value))

        return from_numeric

    @property
    def python_type(self) -> type[Decimal]:
        """Values are ``Decimal``."""
        return Decimal


def _to_utc(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"a datetime column takes datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused: pass a timezone-aware (UTC) datetime")
    return value.astimezone(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An instant: stored in UTC, returned as an aware UTC ``datetime`` on every backend.

    SQLite holds ``YYYY-MM-DD HH:MM:SS.ffffff`` text (UTC, sorts correctly); PostgreSQL holds
    ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``DATETIME`` on SQLite (we format the text ourselves), ``timestamptz`` elsewhere."""
        return dialect.type_descriptor(DateTime(timezone=True))

    def bind_processor(self, dialect: Dialect) -> Any:
        """UTC text on SQLite, an aware UTC datetime elsewhere."""
        if dialect.name == _SQLITE:
            # A bulk insert binds the same created_at/updated_at object on every row: remember the
            # last conversion (datetimes are immutable, so identity means the same text).
            last: list[tuple[object, str]] = [(None, "")]

            def to_text(value: object) -> str | None:
                if value is None:
                    return None
                seen, text = last[0]
                if value is seen:
                    return text
                text = _to_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
                last[0] = (value, text)
                return text

            return to_text
        impl_processor = self.impl_instance.dialect_impl(dialect).bind_processor(dialect)

        def to_aware(value: object) -> Any:
            if value is None:
                return None
            utc = _to_utc(value)
            return impl_processor(utc) if impl_processor else utc

        return to_aware

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        """An aware UTC datetime (SQLite text is UTC by construction)."""
        if dialect.name == _SQLITE:

            def from_text(value: object) -> dt.datetime | None:
                if value is None:
                    return None
                if isinstance(value, dt.datetime):
                    parsed = value
                else:
                    parsed = dt.datetime.fromisoformat(str(value))
                if parsed.tzinfo is None:
                    return parsed.replace(tzinfo=dt.UTC)
                return parsed.astimezone(dt.UTC)

            return from_text
        impl_processor = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def from_aware(value: object) -> dt.datetime | None:
            if impl_processor is not None:
                value = impl_processor(value)
            if value is None:
                return None
            if not isinstance(value, dt.datetime):
                raise TypeError(f"expected a datetime from the database, got {type(value)}")
            if value.tzinfo is None:
                return value.replace(tzinfo=dt.UTC)
            return value.astimezone(dt.UTC)

        return from_aware

    @property
    def python_type(self) -> type[dt.datetime]:
        """Values are ``datetime``."""
        return dt.datetime


class JsonType(TypeDecorator[Any]):
    """A JSON document: ``TEXT`` on SQLite, ``JSONB`` on PostgreSQL; SQL ``NULL`` for ``None``.

    Serialization goes through the engine's ``json_serializer`` / ``json_deserializer``
    (:func:`json_dumps` / :func:`json_loads`, set by ``create_engine``), so ``Decimal`` numbers
    round-trip exactly on both backends.
    """

    impl = JSON(none_as_null=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """``JSONB`` on PostgreSQL, the generic JSON (stored as text) elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))


def _json_default(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: object) -> str:
    """Serialize to JSON text, writing ``Decimal`` exactly (``1234.5600`` stays ``1234.5600``).

    UUIDs, dates and enums become strings; anything else unknown raises ``TypeError``.
    """
    return simplejson.dumps(value, use_decimal=True, default=_json_default, sort_keys=True)


def json_loads(text: str | bytes) -> Any:
    """Parse JSON text, reading every non-integer number as an exact ``Decimal``."""
    return simplejson.loads(text, use_decimal=True)
