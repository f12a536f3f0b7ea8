"""Walking the layers of a model, nested models included, with public APIs."""


def walk_layers(model):
    """Every layer of `model`, the layers of nested models included.

    Depth first: a nested model comes right before its own layers, and the
    layers of a model come in the order of its `layers` attribute. A layer
    shared by several models appears once; `model` itself does not appear.
    Works on Keras 3 and `tf_keras` models: anything with a `layers` list is
    walked into.

    Example:

    ```python
    batch_norms = [
        layer for layer in walk_layers(teacher)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    ```

    Args:
        model: A model, or any layer with a `layers` list.

    Returns:
        A list of layers.
    """
    found = []
    seen = set()

    def walk(container):
        for layer in container.layers:
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            found.append(layer)
            if isinstance(getattr(layer, "layers", None), list):
                walk(layer)

    walk(model)
    return found
