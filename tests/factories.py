"""factory_boy factories; every tenant-owned factory takes a tenant."""

from __future__ import annotations

import factory

from accounts.models import Membership, Tenant, User
from accounts.services import api_key_create

PASSWORD = "correct-horse-battery-staple"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Shop {n}")
    slug = factory.Sequence(lambda n: f"shop-{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Membership.Role.OWNER


def make_api_key(tenant: Tenant, *, scopes=None, name: str = "test key") -> str:
    """Create a key for the tenant and return its plaintext."""
    return api_key_create(tenant=tenant, name=name, scopes=scopes).key


def make_clustered_events(
    tenant: Tenant,
    *,
    n_users: int = 60,
    n_items: int = 40,
    groups: int = 4,
    per_user: int = 8,
    seed: int = 0,
    user_prefix: str = "u",
    item_prefix: str = "i",
) -> int:
    """Events with an obvious structure: users of group g interact with items of group g.

    A model that learns anything beats popularity here. Returns the number of events created.
    """
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from catalog.models import Item
    from interactions.models import Event

    rng = np.random.default_rng(seed)
    items = Item.objects.bulk_create(
        [
            Item(
                tenant=tenant,
                external_id=f"{item_prefix}{i}",
                name=f"Item {i}",
                main_category=f"group{i % groups}",
                price=float(1 + i % 7),
            )
            for i in range(n_items)
        ],  # fmt: skip
        ignore_conflicts=True,
    )
    items = {item.external_id: item for item in Item.objects.filter(tenant=tenant)}
    start = datetime(2024, 1, 1, tzinfo=UTC)
    events = []
    for u in range(n_users):
        group = u % groups
        own = [i for i in range(n_items) if i % groups == group]
        picks = rng.choice(own, size=min(per_user, len(own)), replace=False)
        for step, i in enumerate(picks):
            events.append(
                Event(
                    tenant=tenant,
                    user_id=f"{user_prefix}{u}",
                    event_type="purchase" if step % 3 == 0 else "view",
                    item=items[f"{item_prefix}{i}"],
                    timestamp=start + timedelta(days=u, minutes=step),
                )
            )
    Event.objects.bulk_create(events)
    return len(events)
