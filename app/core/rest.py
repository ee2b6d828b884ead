"""The JSON API's plumbing: flask-smorest wired to our error envelope and a strict JSON reader."""

from __future__ import annotations

import json
from typing import Any

import flask
from flask_smorest import Api, Blueprint
from marshmallow import fields
from webargs import core
from webargs.flaskparser import FlaskParser

from app.core.fields import StrictSchema
from app.errors import BadRequestError, UnsupportedMediaTypeError


class ErrorBody(StrictSchema):
    code = fields.String(required=True, metadata={"description": "错误代码，如 validation_error"})
    message = fields.String(required=True, metadata={"description": "给用户看的中文说明"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "按字段路径（点号连接）列出的错误"},
    )
    request_id = fields.String(required=True)


class ErrorEnvelope(StrictSchema):
    error = fields.Nested(ErrorBody, required=True)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


class StrictJsonParser(FlaskParser):
    """JSON bodies only as ``application/json``; malformed or absurdly nested JSON is a 400."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        if req.mimetype != "application/json":
            raise UnsupportedMediaTypeError()
        raw = req.get_data(cache=True)
        if not raw.strip():
            raise BadRequestError("请求内容为空，请以 JSON 提交")
        try:
            data = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            # JSONDecodeError and UnicodeDecodeError are ValueErrors.
            raise BadRequestError("请求内容不是有效的 JSON，请检查后重试") from None
        if not isinstance(data, dict):
            # Every body of the API is an object; an array or a bare value has no field to name in a 422.
            raise BadRequestError("请求内容应为 JSON 对象，请检查后重试")
        return data

    def load_json(self, req: flask.Request, schema: Any) -> Any:
        return self._raw_load_json(req)


core.Parser.DEFAULT_VALIDATION_STATUS = 422


# The OpenAPI security requirement of endpoints that take ``Authorization: Bearer``.
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = StrictJsonParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with the schema instantiated once here: given a class, webargs would build it
        (and each nested schema) anew on every request. Loading leaves an instance unchanged: threads share it."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)


class QzbgApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, with errors left to ``app.errors`` and documented as our envelope."""

    ERROR_SCHEMA = ErrorEnvelope

    def _register_error_handlers(self) -> None:
        """``app.errors.register_error_handlers`` owns every error response."""


api = QzbgApi()

API_CONFIG = {
    "API_TITLE": "qzbg 强制报告 API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {"description": "侵害未成年人案件强制报告：小程序接口。所有错误均为统一的 error 信封。"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    },
}
