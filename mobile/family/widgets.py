"""The family app's small widgets on the common theme: wrapped texts, cards, buttons, a
bottom bar, and a chart of marks. Every size goes through `theme.size` (large fonts)."""

from __future__ import annotations

from typing import Any

from kivy.graphics import Color, Ellipse, Line, Rectangle, RoundedRectangle
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.gridlayout import GridLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

from mobile.common import theme


class Text(Label):
    """A label that wraps to its width and is as tall as its text."""

    def __init__(
        self,
        text: str = "",
        *,
        font: float = theme.FONT_BODY,
        color: tuple[float, ...] = theme.TEXT,
        bold: bool = False,
        halign: str = "left",
        **kw: Any,
    ) -> None:
        super().__init__(
            text=text,
            font_size=sp(theme.size(font)),
            color=color,
            bold=bold,
            halign=halign,
            valign="middle",
            size_hint_y=None,
            markup=False,
            **kw,
        )
        self.bind(width=self._wrap, texture_size=self._fit)
        self._fit()  # an empty text has no texture to say its height

    def _wrap(self, *_: Any) -> None:
        self.text_size = (self.width - dp(4), None)

    def _fit(self, *_: Any) -> None:
        self.height = max(self.texture_size[1] + dp(4), dp(theme.size(22)))


class Filled:
    """Mixin: a background of one colour drawn under the widget's children."""

    def fill(self, colour: tuple[float, ...], radius: float = 0) -> None:
        widget: Any = self
        with widget.canvas.before:
            widget._fill_colour = Color(*colour)
            if radius:
                widget._fill = RoundedRectangle(radius=[dp(radius)])
            else:
                widget._fill = Rectangle()
        widget.bind(pos=self._move, size=self._move)

    def _move(self, *_: Any) -> None:
        widget: Any = self
        widget._fill.pos = widget.pos
        widget._fill.size = widget.size


class Card(Filled, BoxLayout):
    """A white card of stacked rows, as tall as its content."""

    def __init__(self, colour: tuple[float, ...] = theme.SURFACE, **kw: Any) -> None:
        kw.setdefault("orientation", "vertical")
        kw.setdefault("padding", (dp(12), dp(8)))
        kw.setdefault("spacing", dp(4))
        super().__init__(size_hint_y=None, **kw)
        self.fill(colour, radius=8)
        self.bind(minimum_height=self.setter("height"))


class Bar(Filled, BoxLayout):
    def __init__(self, **kw: Any) -> None:
        kw.setdefault("size_hint_y", None)
        kw.setdefault("height", dp(theme.size(theme.TOUCH)))
        kw.setdefault("padding", (dp(6), dp(4)))
        kw.setdefault("spacing", dp(6))
        super().__init__(**kw)
        self.fill(theme.BAR)


class Btn(Button):
    def __init__(
        self, text: str, *, primary: bool = True, font: float = theme.FONT_BODY, **kw: Any
    ) -> None:
        kw.setdefault("size_hint_y", None)
        kw.setdefault("height", dp(theme.size(theme.TOUCH)))
        super().__init__(
            text=text,
            font_size=sp(theme.size(font)),
            background_normal="",
            background_color=theme.PRIMARY if primary else theme.DIVIDER,
            color=theme.ON_PRIMARY if primary else theme.TEXT,
            halign="center",
            valign="middle",
            **kw,
        )
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width - dp(8), None)))


class NavButton(Button):
    """A bottom-bar button; `selected` shows which screen is open."""

    def __init__(self, name: str, text: str, **kw: Any) -> None:
        super().__init__(
            text=text,
            font_size=sp(theme.size(theme.FONT_SMALL)),
            background_normal="",
            background_color=theme.BAR,
            color=theme.ON_PRIMARY,
            halign="center",
            valign="middle",
            **kw,
        )
        self.name = name
        self.bind(size=lambda *_: setattr(self, "text_size", (self.width, None)))

    def select(self, on: bool) -> None:
        self.background_color = theme.PRIMARY if on else theme.BAR


class Column(ScrollView):
    """A scrolling column of cards; `box` takes the rows."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(do_scroll_x=False, bar_width=dp(4), **kw)
        self.box = GridLayout(cols=1, size_hint_y=None, padding=(dp(8), dp(8)), spacing=dp(8))
        self.box.bind(minimum_height=self.box.setter("height"))
        self.add_widget(self.box)

    def clear(self) -> None:
        self.box.clear_widgets()
        self.scroll_y = 1

    def add(self, widget: Widget) -> Widget:
        self.box.add_widget(widget)
        return widget


class MarksChart(Widget):
    """Marks of a subject over the period (dots, size by weight) and the running weighted
    average (a line), on a 1..5 scale."""

    def __init__(self, points: list[tuple[float, float, int]], averages: list[float], **kw: Any):
        super().__init__(size_hint_y=None, height=dp(theme.size(90)), **kw)
        self.points = points  # (x in 0..1, value, weight)
        self.averages = averages
        self.bind(pos=self.draw, size=self.draw)

    def draw(self, *_: Any) -> None:
        self.canvas.clear()
        if not self.points:
            return
        left, bottom = self.x + dp(6), self.y + dp(6)
        width, height = max(self.width - dp(12), 1), max(self.height - dp(12), 1)

        def y_of(value: float) -> float:
            return bottom + (min(max(value, 1.0), 5.0) - 1.0) / 4.0 * height

        with self.canvas:
            Color(*theme.DIVIDER)
            for level in (2, 3, 4, 5):
                Line(points=[left, y_of(level), left + width, y_of(level)], width=1)
            Color(*theme.PRIMARY)
            if len(self.averages) > 1:
                line: list[float] = []
                for point, avg in zip(self.points, self.averages, strict=True):
                    line += [left + point[0] * width, y_of(avg)]
                Line(points=line, width=dp(1.5))
            Color(*theme.TEXT)
            for x, value, weight in self.points:
                r = dp(3 + weight)
                Ellipse(pos=(left + x * width - r, y_of(value) - r), size=(2 * r, 2 * r))
