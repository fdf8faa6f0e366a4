"""The Anthropic SDK's own GenAI spans and Arize OpenInference's Anthropic instrumentation
together: each call is reported twice, which aispm must merge into one event."""

from common import agent_run, anthropic_calls, finish, setup_tracing

provider = setup_tracing("py-anthropic-sdk-openinference")
from openinference.instrumentation.anthropic import AnthropicInstrumentor  # noqa: E402

AnthropicInstrumentor().instrument(tracer_provider=provider)
agent_run("openinference", anthropic_calls)
finish(provider)
