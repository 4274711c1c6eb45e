from kfp.dsl import Input, Model, Output

from components.runtime import component


@component(image="base")
def select_best(
    models: Input[list[Model]],
    accuracies: list[float],
    best: Output[Model],
) -> float:
    """Pick the most accurate of several candidate models (the fan-in of a sweep).

    Ties go to the earlier candidate, so the choice is reproducible.

    Args:
        models: Candidate models, in the same order as `accuracies`.
        accuracies: Test accuracy of each candidate.
        best: A copy of the winning model. Metadata: its training metadata, accuracy
            and the number of candidates.

    Returns:
        The accuracy of the winning model.
    """
    import shutil

    if not models or len(models) != len(accuracies):
        raise ValueError(f"got {len(models)} models and {len(accuracies)} accuracies")
    winner = max(range(len(models)), key=lambda i: (accuracies[i], -i))
    shutil.copyfile(models[winner].path, best.path)
    best.metadata.update(
        {
            **models[winner].metadata,
            "accuracy": round(accuracies[winner], 4),
            "candidates": len(models),
        }
    )
    return accuracies[winner]
