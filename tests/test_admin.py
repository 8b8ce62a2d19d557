"""Django admin for operators: every model's pages open, read-only ones stay read-only, actions call services."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_celery_beat.models import PeriodicTask

from catalog.models import CatalogImport, Item
from interactions.models import Event, InteractionImport, UserErasure
from tests.web import make_model_version
from training import services
from training.models import ModelVersion, TrainingConfig, TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(tenant_a):
    tenant = tenant_a.tenant
    item = Item.objects.create(tenant=tenant, external_id="P1", name="Kettle", main_category="kitchen")
    event = Event.objects.create(
        tenant=tenant, user_id="u1", event_type="view", item=item, timestamp=datetime(2024, 1, 1, tzinfo=UTC)
    )
    return {
        "item": item,
        "event": event,
        "catalog_import": CatalogImport.objects.create(tenant=tenant, file="x.csv", original_name="items.csv"),
        "interaction_import": InteractionImport.objects.create(tenant=tenant, file="y.csv", original_name="ev.csv"),
        "erasure": UserErasure.objects.create(
            tenant=tenant, user_id="gone", erased_at=datetime(2024, 2, 1, tzinfo=UTC)
        ),
        "job": TrainingJob.objects.create(tenant=tenant, trigger="web"),
        "config": services.training_config_get(tenant=tenant),
        "version": make_model_version(tenant, 1),
    }


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("catalog/item", "item"),
        ("catalog/catalogimport", "catalog_import"),
        ("interactions/event", "event"),
        ("interactions/interactionimport", "interaction_import"),
        ("interactions/usererasure", "erasure"),
        ("training/trainingconfig", "config"),
        ("training/trainingjob", "job"),
        ("training/modelversion", "version"),
    ],
)
def test_lists_and_objects_open(admin_client, data, model, key):
    listing = admin_client.get(f"/admin/{model}/")
    assert listing.status_code == 200
    assert admin_client.get(f"/admin/{model}/?q=u1").status_code == 200
    assert admin_client.get(f"/admin/{model}/{data[key].pk}/change/").status_code == 200


def test_list_filters(admin_client, data, tenant_a):
    tenant = tenant_a.tenant.pk
    assert (
        "Kettle"
        in admin_client.get(f"/admin/catalog/item/?tenant__id__exact={tenant}&is_active__exact=1").content.decode()
    )
    assert (
        "u1"
        in admin_client.get(
            f"/admin/interactions/event/?event_type__exact=view&tenant__id__exact={tenant}"
        ).content.decode()
    )
    assert admin_client.get("/admin/catalog/catalogimport/?status__exact=queued").status_code == 200
    assert admin_client.get("/admin/training/trainingjob/?status__exact=queued&trigger__exact=web").status_code == 200


def test_records_made_by_the_service_cannot_be_added_or_edited_here(admin_client, data):
    for model in ("interactions/event", "interactions/usererasure", "catalog/catalogimport", "training/trainingjob",
                  "training/modelversion", "training/trainingconfig"):  # fmt: skip
        assert admin_client.get(f"/admin/{model}/add/").status_code == 403
    event = data["event"]
    admin_client.post(f"/admin/interactions/event/{event.pk}/change/", {"user_id": "someone-else"})
    event.refresh_from_db()
    assert event.user_id == "u1"
    assert admin_client.post(f"/admin/interactions/event/{event.pk}/delete/", {"post": "yes"}).status_code == 403


def config_form(config: TrainingConfig, **changes) -> dict:
    form = {
        "algorithm": config.algorithm,
        "embedding_dim": config.embedding_dim,
        "mlp_layers": "[32, 16]",
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "num_negatives": config.num_negatives,
        "l2": config.l2,
        "event_weights": '{"view": 1, "purchase": 4}',
        "retrain_schedule": "45 1 * * *",
        "schedule_enabled": "on",
        "min_interactions": config.min_interactions,
        "keep_versions": config.keep_versions,
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_saving_a_training_config_moves_its_beat_entry(admin_client, data):
    config = data["config"]
    url = f"/admin/training/trainingconfig/{config.pk}/change/"
    response = admin_client.post(url, config_form(config))
    assert response.status_code == 302, response.content.decode()[:3000]
    config.refresh_from_db()
    assert config.mlp_layers == [32, 16]
    assert config.event_weights["purchase"] == 4
    task = PeriodicTask.objects.get(pk=config.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.enabled) == ("45", "1", True)

    admin_client.post(url, config_form(config, schedule_enabled=None))
    task.refresh_from_db()
    assert not task.enabled

    for bad in ({"retrain_schedule": "whenever"}, {"mlp_layers": "[15, 8]"}, {"event_weights": '{"teleport": 1}'}):
        refused = admin_client.post(url, config_form(config, **bad))
        assert refused.status_code == 200  # the form again, with its error
        assert "errorlist" in refused.content.decode()
    config.refresh_from_db()
    assert config.retrain_schedule == "45 1 * * *"
    assert config.mlp_layers == [32, 16]


def test_activate_action(admin_client, data, tenant_a, tenant_b):
    active = make_model_version(tenant_a.tenant, 2, active=True)
    chosen = data["version"]
    response = admin_client.post(
        "/admin/training/modelversion/", {"action": "activate", "_selected_action": [chosen.pk]}, follow=True
    )
    assert "is active" in response.content.decode()
    assert ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True).pk == chosen.pk
    # two versions of one tenant at once is refused
    admin_client.post(
        "/admin/training/modelversion/", {"action": "activate", "_selected_action": [chosen.pk, active.pk]}
    )
    assert ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True).pk == chosen.pk
    # a pruned version is refused with the service's reason
    pruned = make_model_version(tenant_b.tenant, 1, stored=False)
    refused = admin_client.post(
        "/admin/training/modelversion/", {"action": "activate", "_selected_action": [pruned.pk]}, follow=True
    )
    assert "artifacts were pruned" in refused.content.decode()
    assert not ModelVersion.objects.filter(tenant=tenant_b.tenant, is_active=True).exists()


def test_editing_a_keys_scopes_reaches_every_process_at_once(admin_client, tenant_a):
    from accounts.models import ApiKey

    assert tenant_a.client.get("/api/v1/items").status_code == 200  # the key's record is now cached
    api_key = ApiKey.objects.get(tenant=tenant_a.tenant)
    page = admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/").content.decode()
    assert 'name="tenant"' not in page  # a key never moves to another shop
    response = admin_client.post(
        f"/admin/accounts/apikey/{api_key.pk}/change/", {"name": api_key.name, "scopes": '["ingest"]'}
    )
    assert response.status_code == 302, response.content
    assert ApiKey.objects.get(pk=api_key.pk).scopes == ["ingest"]
    assert tenant_a.client.get("/api/v1/items").status_code == 403  # recommend scope gone, no stale copy
