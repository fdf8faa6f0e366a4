"""Traceloop OpenLLMetry's OpenAI instrumentation (opentelemetry-instrumentation-openai)."""

from common import finish, openai_calls, setup_tracing

provider = setup_tracing("py-openllmetry-openai")
from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)
openai_calls()
finish(provider)
