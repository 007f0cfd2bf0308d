"""Plain Kivy widgets in the apps' theme: filled boxes, readable labels, flat buttons."""

from __future__ import annotations

from typing import Any

from kivy.core.text import Label as CoreLabel
from kivy.graphics import Color, Rectangle, RoundedRectangle
from kivy.graphics.texture import Texture
from kivy.metrics import dp, sp
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

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


# Texts drawn from textures rendered once per app. A Label renders and uploads a new texture
# for every change of its text, and a GPU driver (llvmpipe on these machines, many tablets'
# drivers too) waits for the frame in flight before it takes an upload: a tap changing two
# labels waited for two frames. A cell's status and sync state are a handful of texts, each
# rendered once, then swapped in the canvas for free.
# The label is kept with its texture: it is the texture's reload observer (held weakly), which
# draws the text again if the GL context is lost (an Android app sent to the background).
_STAMPS: dict[tuple[str, float, bool], CoreLabel] = {}


def stamp_texture(text: str, font_size: float, bold: bool = False) -> Texture:
    key = (text, font_size, bold)
    label = _STAMPS.get(key)
    if label is None:
        label = _STAMPS[key] = CoreLabel(text=text, font_size=font_size, bold=bold)
        label.refresh()
    return label.texture


class Stamped:
    """Draws one short text, centred, over the widget from the shared textures; `stamped`
    holds what is shown (for reading it back)."""

    stamped: str = ""

    def stamp_init(self, font_size: float, bold: bool = False) -> None:
        widget: Any = self
        self._stamp_font = sp(theme.size(font_size))
        self._stamp_bold = bold
        with widget.canvas.after:
            self._stamp_colour = Color(*theme.TEXT)
            self._stamp = Rectangle(size=(0, 0))
        widget.bind(pos=self._place_stamp, size=self._place_stamp)

    def stamp(self, text: str, colour: tuple[float, ...]) -> None:
        self.stamped = text
        self._stamp_colour.rgba = colour
        if not text:
            self._stamp.texture, self._stamp.size = None, (0, 0)
            return
        texture = stamp_texture(text, self._stamp_font, self._stamp_bold)
        self._stamp.texture, self._stamp.size = texture, texture.size
        self._place_stamp()

    def _place_stamp(self, *_: Any) -> None:
        widget: Any = self
        w, h = self._stamp.size
        self._stamp.pos = (int(widget.center_x - w / 2), int(widget.center_y - h / 2))


class StampButton(Flat, Stamped):
    """A flat button whose text is a stamp (see `Stamped`)."""

    def __init__(self, size: float = theme.FONT_BODY, **kw: Any) -> None:
        super().__init__("", size=size, **kw)
        self.stamp_init(size)


class StampLabel(Widget, Stamped):
    def __init__(self, size: float = theme.FONT_SMALL, **kw: Any) -> None:
        super().__init__(**kw)
        self.stamp_init(size)

    @property
    def text(self) -> str:
        return self.stamped


def set_text(label: Label, text: str) -> None:
    """Change a label's text into a new texture rather than over the old one: the GPU driver
    must let the frame in flight finish reading a texture before it is overwritten (a wait of
    a whole frame, far longer on a busy CPU), while a fresh texture is uploaded at once."""
    if label.text == text:
        return
    core = getattr(label, "_label", None)
    if core is not None:
        core.texture = None
    label.text = text
