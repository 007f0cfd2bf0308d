"""Plain Kivy widgets in the apps' theme: filled boxes, readable labels, flat buttons."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput

from mobile.common import theme


class Filled:
    """Paints a (rounded) background under the widget; `fill` changes its colour."""

    def paint(self, colour: tuple[float, ...], radius: float = 0) -> None:
        widget: Any = self
        with widget.canvas.before:
            self._colour = Color(*colour)
            if radius:
                self._rect: Any = RoundedRectangle(radius=[dp(radius)])
            else:
                self._rect = Rectangle()
        widget.bind(pos=self._follow, size=self._follow)

    def _follow(self, *_: Any) -> None:
        widget: Any = self
        self._rect.pos = widget.pos
        self._rect.size = widget.size

    def fill(self, colour: tuple[float, ...]) -> None:
        self._colour.rgba = colour


class Box(BoxLayout, Filled):
    def __init__(self, colour: tuple[float, ...] | None = None, radius: float = 0, **kw: Any):
        super().__init__(**kw)
        if colour is not None:
            self.paint(colour, radius)


class Text(Label):
    """A label that wraps to its width and grows to its text."""

    def __init__(self, text: str = "", size: float = theme.FONT_BODY, **kw: Any) -> None:
        kw.setdefault("color", theme.TEXT)
        kw.setdefault("halign", "left")
        kw.setdefault("valign", "middle")
        super().__init__(text=text, font_size=sp(theme.size(size)), **kw)
        self.bind(width=self._wrap)

    def _wrap(self, *_: Any) -> None:
        self.text_size = (self.width, None)
        if self.size_hint_y is None:
            self.texture_update()
            self.height = max(self.texture_size[1], sp(theme.size(theme.FONT_BODY)))


class Flat(Button, Filled):
    """A button with a flat colour; at least a finger's height."""

    def __init__(
        self,
        text: str = "",
        colour: tuple[float, ...] = theme.PRIMARY,
        text_colour: tuple[float, ...] = theme.ON_PRIMARY,
        size: float = theme.FONT_BODY,
        radius: float = 6,
        **kw: Any,
    ) -> None:
        kw.setdefault("size_hint_y", None)
        kw.setdefault("height", dp(theme.size(theme.TOUCH)))
        kw.setdefault("halign", "center")
        kw.setdefault("valign", "middle")
        super().__init__(
            text=text,
            background_normal="",
            background_down="",
            background_color=(0, 0, 0, 0),
            color=text_colour,
            font_size=sp(theme.size(size)),
            **kw,
        )
        self.paint(colour, radius)
        self.bind(size=self._wrap)

    def _wrap(self, *_: Any) -> None:
        pad = self.padding[0] * 2 if isinstance(self.padding, list | tuple) else dp(8)
        self.text_size = (max(1, self.width - pad - dp(8)), self.height)


def field(hint: str, **kw: Any) -> TextInput:
    kw.setdefault("multiline", False)
    kw.setdefault("size_hint_y", None)
    kw.setdefault("height", dp(theme.size(theme.TOUCH)))
    return TextInput(
        hint_text=hint,
        font_size=sp(theme.size(theme.FONT_BODY)),
        padding=[dp(10), dp(14)],
        write_tab=False,
        **kw,
    )
