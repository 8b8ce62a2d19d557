"""Train a tenant's model here and now, through the same code path as the worker."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from recsys_site.commands import add_read_options, read_params, tenant_from_slug
from recsys_site.errors import ApplicationError
from recsys_site.uploads import ReadOptions
from training.models import TrainingJob
from training.services import resolve_params, training_config_get, training_job_run

PARAM_FLAGS = {
    "embedding_dim": int,
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "num_negatives": int,
    "seed": int,
}


class Command(BaseCommand):
    help = (
        "Train a tenant's NeuMF model now: progress per epoch, then HR@10/NDCG@10 beside popularity. "
        "With --data-path, train on an interactions file (read like an upload, not stored) instead of the "
        "tenant's events. The new version is compared and promoted like any other."
    )

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--data-path", help="an interactions file to train on instead of the stored events")
        parser.add_argument("--fine-tune", action="store_true", help="start from the active version's weights")
        for flag, kind in PARAM_FLAGS.items():
            parser.add_argument(f"--{flag.replace('_', '-')}", type=kind, dest=flag)
        add_read_options(parser)

    def handle(self, *args, tenant: str, data_path: str | None, fine_tune: bool, **options):
        shop = tenant_from_slug(tenant)
        overrides = {name: options[name] for name in PARAM_FLAGS if options.get(name) is not None}
        try:
            resolve_params(training_config_get(tenant=shop), overrides)
            data_options = ReadOptions.from_params(read_params(options)) if data_path else None
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        job = TrainingJob.objects.create(
            tenant=shop, trigger=TrainingJob.Trigger.CLI, fine_tune=fine_tune, params=overrides
        )
        self.stdout.write(f"training job {job.pk} for {shop.slug}")
        finished = training_job_run(
            job_id=job.pk, data_path=data_path, data_options=data_options, echo=lambda line: self.stdout.write(line)
        )
        if finished is None:
            job.delete()
            raise CommandError("Another training of this tenant is running; try again when it ends.")
        if finished.status != TrainingJob.Status.SUCCEEDED:
            raise CommandError(f"training failed: {finished.error}")
        version = finished.model_version
        metrics = version.metrics
        self.stdout.write(
            self.style.SUCCESS(
                f"v{version.version} ({'active' if version.is_active else 'inactive'}) "
                f"{version.n_users} users x {version.n_items} items, {version.n_interactions} interactions, "
                f"{version.training_seconds:.1f} s\n"
                f"  NCF protocol ({metrics['negatives_per_positive']} negatives): "
                f"HR@10 {metrics['hr_at_10']:.4f}  NDCG@10 {metrics['ndcg_at_10']:.4f}   "
                f"popularity {metrics['popularity_hr_at_10']:.4f} / {metrics['popularity_ndcg_at_10']:.4f}\n"
                f"  full catalog: HR@10 {metrics['full_hr_at_10']:.4f}  NDCG@10 {metrics['full_ndcg_at_10']:.4f}  "
                f"coverage {metrics['full_coverage']:.3f}   "
                f"popularity {metrics['popularity_full_hr_at_10']:.4f} / {metrics['popularity_full_ndcg_at_10']:.4f}\n"
                f"  {version.promotion.get('reason', '')}"
            )
        )
