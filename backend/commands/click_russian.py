"""Click's own messages (usage errors, prompts) in Russian, from our catalogue.

Click marks every text it shows for translation with `gettext` (`_("Missing option")`), and
looks the translations up in the process's gettext domain and locale; this machine has no Russian
catalogue for Click, and the CLI should not depend on the operator's locale. So the `gettext`
and `ngettext` names in Click's modules are pointed at a lookup of the same message ids in
backend/i18n (`cli.click.*`); an id not listed there stays as Click wrote it (decision 0015).
"""

from __future__ import annotations

import importlib
from typing import Any

from backend.i18n import t

# Click's message id -> our catalogue key. Plural ids are listed by their singular form:
# the Russian texts are written so that one form reads right for every count.
MESSAGES = {
    "Aborted!": "aborted",
    "Missing command.": "missing_command",
    "Got unexpected extra argument ({args})": "extra_arguments",
    "Takes {nargs} values but 1 was given.": "wrong_count",
    "Value must be an iterable.": "not_iterable",
    "Did you mean {possibility}?": "did_you_mean",
    "Missing argument": "missing_argument",
    "Missing option": "missing_option",
    "Missing parameter": "missing_parameter",
    "Missing parameter: {param_name}": "missing_parameter_named",
    "Missing {param_type}": "missing_parameter",
    "Invalid value for {param_hint}: {message}": "invalid_value_for",
    "Invalid value: {message}": "invalid_value",
    "Could not open file {filename!r}: {message}": "cannot_open",
    "Error: {message}": "error",
    "Try '{command} {option}' for help.": "try_help",
    "No such option {name!r}.": "no_such_option",
    "No such command {name!r}.": "no_such_command",
    "unknown error": "unknown_error",
    "Option {name!r} does not take a value.": "takes_no_value",
    "Option {name!r} requires an argument.": "requires_argument",
    "Argument {name!r} takes {nargs} values.": "argument_values",
    "Choose from:\n\t{choices}": "choose_from",
    "{value!r} is not {choice}.": "not_one_of",
    "{value!r} does not match the format {format}.": "bad_format",
    "{value} is not in the range {range}.": "out_of_range",
    "{value!r} is not a valid boolean. Recognized values: {states}": "not_boolean",
    "{len_type} values are required, but {len_value} was given.": "tuple_count",
    "{value!r} is not a valid {number_type}.": "not_a_number",
    "{value!r} is not a valid UUID.": "not_uuid",
    "{name} {filename!r} is a file.": "is_a_file",
    "{name} {filename!r} is a directory.": "is_a_directory",
    "{name} {filename!r} is not readable.": "not_readable",
    "{name} {filename!r} is not writable.": "not_writable",
    "{name} {filename!r} is not executable.": "not_executable",
    "{name} {filename!r} does not exist.": "does_not_exist",
    "file": "file",
    "directory": "directory",
    "path": "path",
    "Repeat for confirmation": "repeat",
    "Error: The two entered values do not match.": "values_differ",
    "Error: invalid input": "invalid_input",
    "Do you want to continue?": "continue",
    "Show this message and exit.": "help_option",
}
CLICK_MODULES = ("core", "exceptions", "parser", "types", "decorators", "termui")


def gettext(message: str) -> str:
    key = MESSAGES.get(message)
    return t(f"cli.click.{key}") if key else message


def ngettext(singular: str, plural: str, n: int) -> str:
    key = MESSAGES.get(singular)
    if key:
        return t(f"cli.click.{key}")
    return singular if n == 1 else plural


def speak_russian() -> None:
    """Point Click's translation hooks at the catalogue (once per process; idempotent)."""
    for name in CLICK_MODULES:
        module: Any = importlib.import_module(f"click.{name}")
        if hasattr(module, "_"):
            module._ = gettext
        if hasattr(module, "ngettext"):
            module.ngettext = ngettext
