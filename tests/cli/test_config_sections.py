import yaml

from kdkeras.cli import config_sections


def test_the_sections_join_into_yaml_with_one_schedule_for_both_students():
    text = (
        config_sections.header("job.yaml")
        + config_sections.scratch_section(epochs=7, batch_size=16)
        + "distill:\n  loss: kd\n"
        + config_sections.distill_training_keys(7, 16, "images", every_n_epochs=3)
        + "\n"
        + config_sections.closing_sections("my-run", "all four")
    )
    assert text.startswith("# kdkeras run config: `kdkeras run job.yaml`.")
    assert "# the int8 student scored on validation images as it trains" in text
    assert "quantizations: [float16, int8]   # all four" in text
    config = yaml.safe_load(text)
    assert config["scratch"] == {
        "enabled": True,
        "epochs": 7,
        "batch_size": 16,
        "learning_rate": 0.003,
    }
    assert config["distill"] == {
        "loss": "kd",
        "epochs": 7,
        "batch_size": 16,
        "learning_rate": 0.003,
        "deployment_check": {
            "every_n_epochs": 3,
            "max_accuracy_drop": 0.02,
            "on_budget_exceeded": "warn",
        },
    }
    assert config["run"] == {
        "name": "my-run",
        "output_dir": "runs",
        "seed": 1337,
        "tensorboard": True,
    }
    assert config["report"] == {"latency_runs": 100}
