"""Adapters: one per controller family, each turning what its controllers report into
`ControllerEvent`s (see `base.Adapter`)."""
