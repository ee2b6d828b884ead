"""The JSON API's plumbing: flask-smorest wired to our error envelope, a strict JSON reader, and an
OpenAPI document that states what the code enforces (every error an operation can give, and each
input field's rules).
"""

from __future__ import annotations

import codecs
import http
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import flask
from flask_smorest import Api, Blueprint
from marshmallow import fields
from webargs import core
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from app.core.fields import StrictSchema
from app.errors import BadRequestError, UnsupportedMediaTypeError

F = TypeVar("F", bound=Callable[..., Any])

# Every ``code`` an error envelope can carry (CONTRACT.md).
ERROR_CODES = (
    "bad_request",
    "unsupported_media_type",
    "validation_error",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "rate_limited",
    "upstream_unavailable",
    "service_unavailable",
    "internal_error",
)


class ErrorBody(StrictSchema):
    code = fields.String(
        required=True, metadata={"description": "错误代码，如 validation_error", "enum": list(ERROR_CODES)}
    )
    message = fields.String(required=True, metadata={"description": "给用户看的中文说明"})
    fields_ = fields.Dict(
        data_key="fields",
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "按字段路径（点号连接）列出的错误，仅 422 有"},
    )
    request_id = fields.String(required=True)


class ErrorEnvelope(StrictSchema):
    error = fields.Nested(ErrorBody, required=True)


# ---- reading JSON ------------------------------------------------------------------------------------


class DuplicateKeyError(ValueError):
    """An object names one key twice: parsers disagree on which value wins."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise DuplicateKeyError
        result[key] = value
    return result


def parse_json_body(raw: bytes) -> Any:
    """UTF-8 JSON exactly: no byte-order mark, no other encoding, no duplicate key, no NaN; else a 400.

    ``json.loads(bytes)`` would guess UTF-16 and UTF-32 and skip a BOM; decoding ourselves means what we
    read is what any other strict parser reads. A BOM is refused, not stripped: RFC 8259 forbids sending
    one, and a client that adds it is not sending the contract's UTF-8 JSON.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raise BadRequestError("请求内容须为不带 BOM 的 UTF-8 编码 JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestError("请求内容须为 UTF-8 编码的 JSON，请检查后重试") from None
    if not text.strip():
        raise BadRequestError("请求内容为空，请以 JSON 提交")
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except DuplicateKeyError:
        raise BadRequestError("请求内容中有重复的字段名，请检查后重试") from None
    except (ValueError, RecursionError):
        raise BadRequestError("请求内容不是有效的 JSON，请检查后重试") from None
    if not isinstance(data, dict):
        # Every body of the API is an object; an array or a bare value has no field to name in a 422.
        raise BadRequestError("请求内容应为 JSON 对象，请检查后重试")
    return data


class StrictJsonParser(FlaskParser):
    """JSON bodies only as ``application/json`` (strict UTF-8, see ``parse_json_body``); multipart
    bodies as one set of fields, where a field the schema does not name is refused."""

    # None: the schema's own ``unknown`` (RAISE for every StrictSchema), for files too.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "files": None}  # noqa: RUF012

    def _raw_load_json(self, req: flask.Request) -> Any:
        if req.mimetype != "application/json":
            raise UnsupportedMediaTypeError()
        return parse_json_body(req.get_data(cache=True))

    def load_json(self, req: flask.Request, schema: Any) -> Any:
        return self._raw_load_json(req)

    def load_files(self, req: flask.Request, schema: Any) -> Any:
        # Text fields beside the files: an unknown one is a 422 naming it, a text where a file belongs too.
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


core.Parser.DEFAULT_VALIDATION_STATUS = 422


# ---- documenting errors --------------------------------------------------------------------------------

# The OpenAPI security requirement of endpoints that take ``Authorization: Bearer``.
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

RETRY_AFTER = {
    "description": "几秒后可以重试",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
# Every 401 carries it (UnauthorizedError adds it), the login's too.
WWW_AUTHENTICATE = {"description": "Bearer（小程序接口）或 QZBG-HMAC（机构接口）", "required": True,
                    "schema": {"type": "string", "pattern": "^(Bearer|QZBG-HMAC)"}}

# status -> (the codes its envelope carries, description, headers) of the error responses operations refer to.
ERROR_RESPONSES: dict[int, tuple[tuple[str, ...], str, dict[str, Any]]] = {
    400: (("bad_request",), "请求格式有误：不是 UTF-8 编码的 JSON 对象、有重复的字段名或无法解析", {}),
    401: (("unauthorized",), "未登录：缺少、无效或已过期的 Bearer 令牌；登录时为无效或已用过的 code",
          {"WWW-Authenticate": WWW_AUTHENTICATE}),
    404: (("not_found",), "找不到：不存在，或不是本人的报告", {}),
    409: (("conflict",), "状态冲突：报告当前的状态不允许此操作", {}),
    413: (("payload_too_large",), "内容过大：请求体超过 1 MiB，或附件超过上限", {}),
    415: (("unsupported_media_type",), "内容类型不受支持", {}),
    422: (("validation_error",), "提交内容有误：fields 按字段路径列出每个错误", {}),
    429: (("rate_limited",), "操作过于频繁", {"Retry-After": RETRY_AFTER}),
    503: (("upstream_unavailable", "service_unavailable"),
          "服务暂时不可用：upstream_unavailable 为微信等外部服务，service_unavailable 为数据库或存储",
          {"Retry-After": RETRY_AFTER}),
}


def error_envelope_schema(status: int) -> dict[str, Any]:
    """The envelope as a status gives it: its codes, and ``fields`` exactly when it is a 422."""
    codes = ERROR_RESPONSES[status][0]
    error: dict[str, Any] = {
        "allOf": [{"$ref": "#/components/schemas/ErrorBody"}],
        "properties": {"code": {"type": "string", "enum": list(codes)}},
    }
    if status == 422:
        error["required"] = ["fields"]
    else:
        error["not"] = {"required": ["fields"]}
    return {
        "type": "object",
        "properties": {"error": error},
        "required": ["error"],
        "additionalProperties": False,
    }


def error_response_name(status: int) -> str:
    """The component name flask-smorest itself uses for a status (``UNPROCESSABLE_ENTITY`` for 422)."""
    return http.HTTPStatus(status).name


# What each input field enforces, for the document: fields in app.core.fields say it themselves.
def custom_field_properties(self: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    describe = getattr(field, "openapi_properties", None)
    return describe(ret) if describe is not None else {}


class ApiBlueprint(Blueprint):
    """A flask-smorest blueprint with the strict parser, ``errors(...)`` and operationIds."""

    ARGUMENTS_PARSER = StrictJsonParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, with the schema instantiated once here: given a class, webargs would build it
        (and each nested schema) anew on every request. Loading leaves an instance unchanged: threads share it."""
        return super().arguments(schema() if isinstance(schema, type) else schema, *args, **kwargs)

    def errors(self, *statuses: int) -> Callable[[F], F]:
        """Document the error answers a view can give, each with the error envelope (and its headers)."""
        unknown = set(statuses) - set(ERROR_RESPONSES)
        if unknown:
            raise ValueError(f"no error response documented for {sorted(unknown)}")

        def decorator(view: F) -> F:
            for status in statuses:
                view = self.alt_response(status, response=error_response_name(status))(view)
            return view

        return decorator

    def register_views_in_doc(self, api: Any, app: flask.Flask, spec: Any, *, name: str, parameters: Any) -> None:
        # operationId: the view function's name (flask-smorest names the endpoint after it).
        for endpoint, doc_info in self._docs.items():
            for method, operation in doc_info.items():
                if method != "parameters":
                    operation.setdefault("manual_doc", {}).setdefault("operationId", endpoint)
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)


class QzbgApi(Api):  # type: ignore[misc]
    """flask-smorest's Api, with errors left to ``app.errors`` and documented as our envelope.

    No ``default`` response: every operation lists the errors it can give, so an undocumented status is
    a defect the fuzz test finds (500 is never expected, and is not documented).
    """

    ERROR_SCHEMA = ErrorEnvelope
    DEFAULT_ERROR_RESPONSE_NAME = None

    # The document is written when first read (``/api/v1/openapi.json``, a test), not when the app is built:
    # turning every schema into OpenAPI took most of ``create_app``'s time, which a gunicorn worker pays at
    # start-up and the test suite once per test.
    _spec: Any = None
    _pending: list[tuple[Any, flask.Flask, str, Any]]
    _docs_lock = threading.Lock()

    @property  # type: ignore[override]
    def spec(self) -> Any:
        if getattr(self, "_pending", None):
            with self._docs_lock:
                pending, self._pending = self._pending, []
                for blp, app, name, parameters in pending:
                    blp.register_views_in_doc(self, app, self._spec, name=name, parameters=parameters)
                    self._spec.tag({"name": name, "description": blp.description})
        return self._spec

    @spec.setter
    def spec(self, value: Any) -> None:
        # flask-smorest's init_app makes a new document: what was waiting belonged to the one it replaces.
        self._spec, self._pending = value, []

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        """As flask-smorest's, with the blueprint's views documented when the document is first read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._pending.append((blp, self._app, name, parameters))

    def _register_error_handlers(self) -> None:
        """``app.core.errorhandlers.register_error_handlers`` owns every error response."""

    def _init_spec(self, **kwargs: Any) -> None:
        super()._init_spec(**kwargs)
        self.ma_plugin.converter.add_attribute_function(custom_field_properties)

    def _register_responses(self) -> None:
        # The envelope's parts as components, then one response per status that refers to them.
        self.spec.components.schema("ErrorEnvelope", schema=self.ERROR_SCHEMA)
        for status, (codes, description, headers) in ERROR_RESPONSES.items():
            response: dict[str, Any] = {
                "description": f"{description}（{'、'.join(codes)}）",
                "content": {"application/json": {"schema": error_envelope_schema(status)}},
            }
            if headers:
                response["headers"] = headers
            self.spec.components.response(error_response_name(status), response, lazy=True)


api = QzbgApi()

API_CONFIG = {
    "API_TITLE": "qzbg 强制报告 API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    "API_SPEC_OPTIONS": {
        "info": {
            "description": (
                "侵害未成年人案件强制报告：小程序接口。请求体为 UTF-8 编码、无重复字段名的 JSON 对象；"
                "所有错误均为统一的 error 信封，只有 429 和 503 带 Retry-After。"
                "文本字段会去掉控制字符和不可见字符（多行文本保留换行）：maxLength 按提交的内容计，"
                "pattern 说明去掉这些字符后须留下的内容。"
            )
        },
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            # The institutional API: four headers, X-QZBG-Key-Id naming the key (see its operation's description).
            "institutionSignature": {"type": "apiKey", "in": "header", "name": "X-QZBG-Key-Id",
                                     "description": "机构密钥编号；另需 X-QZBG-Timestamp、X-QZBG-Nonce 和 "
                                                    "X-QZBG-Signature（HMAC-SHA256 签名，见 docs/api.md）"},
        }},
    },
}
