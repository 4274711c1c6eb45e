from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.runtime import component


@component(image="sklearn")
def evaluate_model(
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
) -> float:
    """Score a classifier on held-out rows.

    Args:
        model: A joblib-saved scikit-learn classifier.
        test: CSV with a `target` column.
        metrics: accuracy and macro-averaged F1, in the UI's metrics view.
        confusion: The confusion matrix, in the UI's classification view.

    Returns:
        The accuracy, for conditions and comparisons in the pipeline.
    """
    import joblib
    import pandas as pd
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    frame = pd.read_csv(test.path)
    features, labels = frame.drop(columns=["target"]), frame["target"]
    predicted = joblib.load(model.path).predict(features)
    accuracy = float(accuracy_score(labels, predicted))
    metrics.log_metric("accuracy", round(accuracy, 4))
    metrics.log_metric("f1_macro", round(float(f1_score(labels, predicted, average="macro")), 4))
    classes = sorted(labels.unique().tolist())
    confusion.log_confusion_matrix(
        [str(c) for c in classes], confusion_matrix(labels, predicted, labels=classes).tolist()
    )
    return accuracy
