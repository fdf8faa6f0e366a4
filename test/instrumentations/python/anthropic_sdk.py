"""The Anthropic SDK's own GenAI spans (made whenever a global tracer provider exists)."""

from common import agent_run, anthropic_calls, finish, setup_tracing

provider = setup_tracing("py-anthropic-sdk")
agent_run("gen_ai", anthropic_calls)
finish(provider)
