from kfp.dsl import Input, Model, Output

from components.runtime import component


@component(image="sklearn")
def export_model(
    model: Input[Model],
    accuracy: float,
    exported: Output[Model],
    model_name: str = "classifier",
) -> None:
    """Publish a trained model as a release artifact with its evaluation.

    On the cluster the artifact lands under the pipeline root in GCS and is recorded in
    ML Metadata, so it can be found by name and accuracy later.

    Args:
        model: The joblib-saved classifier to publish.
        accuracy: Its test accuracy, recorded with it.
        model_name: The name the model is published under.
        exported: A copy of the model. Metadata: name, accuracy and the training
            metadata of `model`.
    """
    import shutil

    import joblib

    joblib.load(model.path)  # refuse to publish a file that is not a loadable model
    shutil.copyfile(model.path, exported.path)
    exported.metadata.update(
        {**model.metadata, "model_name": model_name, "accuracy": round(accuracy, 4)}
    )
