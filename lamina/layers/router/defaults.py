"""lamina's default routes for its default models.

Four intents: `arithmetic`, `summarise`, `recall` and `chat`. SmolLM2-135M-Instruct (a chat model)
serves most of them; Gemma 3 270M serves `summarise`. Requests that none of them covers (code,
translation, actions in the world such as booking or sending) make the router abstain, and the
agent's default model answers.

The example utterances are data, not logic: add or rephrase some to change what a route catches.
"""

from __future__ import annotations

from lamina.layers.router.types import Aggregate, Route

__all__ = [
    "DEFAULT_AGGREGATE",
    "DEFAULT_MODEL",
    "DEFAULT_ROUTES_AGGREGATE",
    "aggregate_for",
    "default_routes",
]

DEFAULT_AGGREGATE: Aggregate = "centroid"
"""How an `IntentRouter` scores routes unless told otherwise: nearest centroid. Measured with
`bench/routing.py` (test splits, thresholds fitted on the validation splits): healthcare 0.875
fitted and unfitted, helpdesk 0.750 unfitted and 0.911 fitted; "max" gave 0.833 falling to 0.708
when fitted on healthcare, so a fit could lower accuracy with it."""

DEFAULT_ROUTES_AGGREGATE: Aggregate = "max"
"""The aggregate of an agent's router unless `Agent(router_aggregate=)` or `[router] aggregate`
says otherwise: the default routes' thresholds (which `[[routes]]` tables naming a default intent
inherit) were chosen for it."""

DEFAULT_MODEL = "smollm2-135m-instruct"
"""The model that answers when no route is chosen."""

_SUMMARY_MODEL = "gemma3-270m"

_ARITHMETIC = (
    "What is 48 plus 37?",
    "How much is 12 multiplied by 9?",
    "Calculate 250 minus 75.",
    "What is 144 divided by 12?",
    "Work out 7 times 8 plus 3.",
    "What is 20 percent of 150?",
    "What is the square root of 81?",
    "Solve: (5 + 3) * 4 - 6",
    "Tom has 15 marbles and loses 6. How many marbles does he have now?",
    "A shop sells apples at 3 for 2 dollars. How much do 12 apples cost?",
    "If a car drives 90 km in 1.5 hours, what is its average speed?",
    "A recipe needs 250 g of flour per cake. How much flour for 4 cakes?",
    "Add up 13, 27 and 40.",
    "What is 3 squared times 5?",
)

_SUMMARISE = (
    "Summarise this text: ",
    "Summarize the following paragraph in two sentences.",
    "Give me a short summary of this article.",
    "TL;DR of the text below, please.",
    "tl;dr",
    "Condense this into a few bullet points.",
    "Sum up the key points of this passage.",
    "Shorten this email while keeping the main message.",
    "What is the gist of the following text?",
    "Write a one-paragraph summary of this document.",
    "Boil this report down to its essentials.",
    "Can you make this text shorter and more concise?",
    "Turn this into a short list of bullet points.",
    "Please give me the main takeaways from this text.",
)

_RECALL = (
    "What is my favourite food?",
    "Do you remember what I told you yesterday?",
    "What did I tell you my name was?",
    "What's my wife's name?",
    "Which town did I say I grew up in?",
    "Remind me what I said about my job.",
    "What are my preferences for breakfast?",
    "Did I tell you about my trip to Italy?",
    "What do I like to do on weekends?",
    "What did I say earlier about my new job?",
    "Which film did I say I liked?",
    "Do you recall my brother's birthday?",
    "What music do I prefer, based on what I told you?",
    "What is my favourite sport?",
    "What was the name of the restaurant I mentioned?",
)

_CHAT = (
    "Hi there!",
    "Good morning, how is it going?",
    "Tell me something funny.",
    "What is the tallest mountain in the world?",
    "Who painted the Mona Lisa?",
    "How does the moon affect the tides?",
    "Why do leaves change colour in autumn?",
    "What is your favourite book?",
    "Can you suggest a good novel to read?",
    "Explain what gravity is in simple terms.",
    "Thank you, that helps a lot.",
    "What's the best way to learn a new language?",
    "Which is bigger, an elephant or a whale?",
    "Which country has the largest population?",
    "Who invented the telephone?",
    "How do airplanes stay in the air?",
    "When did the Second World War end?",
    "What do you think about summer holidays?",
)


def aggregate_for(chosen: Aggregate | None = None) -> Aggregate:
    """The aggregate of an agent's router: `chosen`, else :data:`DEFAULT_ROUTES_AGGREGATE`."""
    return DEFAULT_ROUTES_AGGREGATE if chosen is None else chosen


def default_routes() -> list[Route]:
    """lamina's default routes: arithmetic, summarise, recall and chat.

    Their thresholds were chosen for the "max" aggregate: build a router over them with
    `IntentRouter(default_routes(), aggregate=DEFAULT_ROUTES_AGGREGATE)`, as an agent does.

    Returns:
        Fresh `Route` objects (callers may extend the list with their own routes).
    """
    return [
        Route(
            "arithmetic",
            _ARITHMETIC,
            DEFAULT_MODEL,
            threshold=0.4,
            description="Calculations and word problems with numbers.",
        ),
        Route(
            "summarise",
            _SUMMARISE,
            _SUMMARY_MODEL,
            threshold=0.52,
            description="Summarise, condense or tl;dr a text the user provides.",
            task="summarise",
        ),
        Route(
            "recall",
            _RECALL,
            DEFAULT_MODEL,
            threshold=0.42,
            description="Questions about what the user said before and their preferences.",
        ),
        Route(
            "chat",
            _CHAT,
            DEFAULT_MODEL,
            threshold=0.4,
            description="Small talk and general-knowledge questions.",
        ),
    ]
