"""Traceloop OpenLLMetry's OpenAI instrumentation (opentelemetry-instrumentation-openai)."""

from common import agent_run, finish, openai_calls, setup_tracing

provider = setup_tracing("py-openllmetry-openai")
from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # noqa: E402

OpenAIInstrumentor().instrument(tracer_provider=provider)
agent_run("traceloop", openai_calls)
finish(provider)
