from tests.annotation_configs.labelstudio_fixtures import *  # noqa: F401,F403  (session fixtures: real Label Studio)
