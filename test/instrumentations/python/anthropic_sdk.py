"""The Anthropic SDK's own GenAI spans (made whenever a global tracer provider exists)."""

from common import anthropic_calls, finish, setup_tracing

provider = setup_tracing("py-anthropic-sdk")
anthropic_calls()
finish(provider)
