"""What each DashScope error code means and what the user can do (protocol sheet)."""

from __future__ import annotations

from enum import StrEnum

_EXPLAIN: dict[str, tuple[str, str]] = {
    "InvalidApiKey": ("The API key is missing, wrong, or from another region.",
                      "Check DASHSCOPE_API_KEY and that the endpoint's region matches the key."),
    "AccessDenied": ("The request was refused (the create call needs the async header, "
                     "or the account may not use this model).",
                     "Check the account's model access in the Model Studio console."),
    "AccessDenied.Unpurchased": ("The model is not activated for this account.",
                                 "Activate PixVerse in the Model Studio console."),
    "Model.AccessDenied": ("The model is not activated for this account.",
                           "Activate PixVerse in the Model Studio console."),
    "InvalidParameter": ("A parameter was not accepted (size, duration, seed or the JSON).",
                         "Fix the parameter named in the message and submit again."),
    "BadRequest.EmptyModel": ("The request had no model.", "Report this as a bug."),
    "BadRequest.EmptyInput": ("The request had no input.", "Report this as a bug."),
    "BadRequest.EmptyParameters": ("The request had no parameters.", "Report this as a bug."),
    "DataInspectionFailed": ("Content moderation rejected the prompt or the output.",
                             "Rephrase the prompt and submit again."),
    "IPInfringementSuspect": ("The prompt looks like it infringes intellectual property.",
                              "Remove names of protected characters or brands."),
    "Throttling": ("Too many requests in a short time.", "Wait a moment; it retries by itself."),
    "Throttling.RateQuota": ("Too many requests per second for this key.",
                             "Wait a moment; requests are retried with back-off."),
    "Throttling.BurstRate": ("A burst of requests exceeded the limit.",
                             "Wait a moment; requests are retried with back-off."),
    "Throttling.AllocationQuota": ("The account's quota is used up.",
                                   "Raise the quota or wait for it to reset."),
    "Arrearage": ("The account is in arrears.", "Top up the Alibaba Cloud account."),
    "InternalError": ("The service had an internal error.",
                      "Try again later; a failed task can be submitted again."),
    "ModelUnavailable": ("The model is overloaded.", "Try again in a few minutes."),
    "ModelServingError": ("The model is overloaded.", "Try again in a few minutes."),
    "UnsupportedOperation": ("Only a PENDING task can be canceled.",
                             "The task already started; let it finish."),
}

NO_CODE = ("The task failed without a reason from the service.",
           "Submit it again; if it keeps failing, try another prompt or size.")


def explain(code: str | None) -> tuple[str, str]:
    """``(meaning, what to do)`` for an error code; a generic pair for unknown codes."""
    if not code:
        return NO_CODE
    if code in _EXPLAIN:
        return _EXPLAIN[code]
    family = code.split(".", 1)[0]
    if family in _EXPLAIN:
        return _EXPLAIN[family]
    return (f"The service reported {code}.", "See the message; submit again if it was transient.")


class FailureClass(StrEnum):
    """Why a task failed (or a create was refused), sorted by what to do about it."""

    MODERATION = "refused by moderation"  # change the prompt; never retried by itself
    PARAMETER = "bad parameter"  # fix the request; never retried by itself
    QUOTA = "quota or limits"  # the account: key, quota, arrears, access, rate
    SERVICE = "service error"  # the service's own trouble: worth another try
    NO_REASON = "no reason given"  # FAILED without a code: worth another try
    OTHER = "other"


_MODERATION = frozenset({"DataInspectionFailed", "IPInfringementSuspect"})
_PARAMETER = frozenset({"InvalidParameter", "BadRequest"})
_QUOTA = frozenset({"Throttling", "Arrearage", "InvalidApiKey", "AccessDenied"})
# The service's own errors, by full code (a second backend's SQL matches them exactly).
SERVICE_CODES = ("InternalError", "InternalError.Algo", "InternalError.Timeout",
                 "InternalError.Unknown", "ModelUnavailable", "ModelServingError",
                 "ServiceUnavailable", "SystemError")
# What ``[queue] retry_failed`` queues again: never moderation or a bad parameter.
RETRIED = frozenset({FailureClass.SERVICE, FailureClass.NO_REASON})
NEVER_RETRIED = frozenset({FailureClass.MODERATION, FailureClass.PARAMETER})


def failure_class(code: str | None) -> FailureClass:
    """The cause of a failure, from the protocol's error code (None: no reason given)."""
    if not code:
        return FailureClass.NO_REASON
    if code in SERVICE_CODES or code.split(".", 1)[0] in ("InternalError", "SystemError"):
        return FailureClass.SERVICE
    family = code.split(".", 1)[0]
    if code in _MODERATION or family in _MODERATION:
        return FailureClass.MODERATION
    if family in _PARAMETER:
        return FailureClass.PARAMETER
    if family in _QUOTA or code.startswith("Model.AccessDenied"):
        return FailureClass.QUOTA
    return FailureClass.OTHER
