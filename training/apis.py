"""Training and models API (`train` scope)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from recsys_site.api import PAGE_PARAMETERS, Pagination, TenantApiView, paginated, validated
from recsys_site.errors import NotFound

from . import selectors, services
from .models import ModelVersion, TrainingConfig, TrainingJob


class ModelVersionOutput(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "version",
            "status",
            "is_active",
            "algorithm",
            "params",
            "metrics",
            "n_users",
            "n_items",
            "n_interactions",
            "trained_at",
            "training_seconds",
            "activated_at",
            "promotion",
        ]


class TrainingJobOutput(serializers.ModelSerializer):
    model_version = ModelVersionOutput(allow_null=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "status",
            "trigger",
            "fine_tune",
            "params",
            "progress",
            "result",
            "model_version",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_progress(self, job: TrainingJob) -> dict:
        progress = dict(job.progress or {})
        progress.setdefault("epoch", 0)
        progress.setdefault("epochs", 0)
        progress.setdefault("loss", None)
        return progress


class TrainingConfigOutput(serializers.ModelSerializer):
    class Meta:
        model = TrainingConfig
        fields = TrainingConfig.SETTINGS_FIELDS


class TrainingConfigApi(TenantApiView):
    required_scope = "train"

    class InputSerializer(serializers.Serializer):
        algorithm = serializers.ChoiceField(choices=TrainingConfig.Algorithm.choices, required=False)
        embedding_dim = serializers.IntegerField(min_value=1, max_value=512, required=False)
        mlp_layers = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=2048), min_length=1, max_length=6, required=False
        )
        epochs = serializers.IntegerField(min_value=1, max_value=500, required=False)
        batch_size = serializers.IntegerField(min_value=16, max_value=1_000_000, required=False)
        learning_rate = serializers.FloatField(min_value=1e-6, max_value=1.0, required=False)
        num_negatives = serializers.IntegerField(min_value=1, max_value=50, required=False)
        l2 = serializers.FloatField(min_value=0, max_value=1.0, required=False)
        event_weights = serializers.DictField(child=serializers.FloatField(), required=False)
        retrain_schedule = serializers.CharField(max_length=100, required=False)
        schedule_enabled = serializers.BooleanField(required=False)
        min_interactions = serializers.IntegerField(min_value=1, max_value=100_000_000, required=False)
        keep_versions = serializers.IntegerField(min_value=1, max_value=100, required=False)

    @extend_schema(responses=TrainingConfigOutput, tags=["training"])
    def get(self, request):
        return Response(TrainingConfigOutput(services.training_config_get(tenant=self.tenant)).data)

    @extend_schema(request=InputSerializer, responses=TrainingConfigOutput, tags=["training"])
    def put(self, request):
        data = validated(self.InputSerializer, request.data)
        config = services.training_config_update(tenant=self.tenant, data=data)
        return Response(TrainingConfigOutput(config).data)

    @extend_schema(request=InputSerializer, responses=TrainingConfigOutput, tags=["training"])
    def patch(self, request):
        return self.put(request)


class TrainingJobListApi(TenantApiView):
    required_scope = "train"

    class InputSerializer(serializers.Serializer):
        fine_tune = serializers.BooleanField(required=False, default=False)
        params = serializers.DictField(required=False, default=dict)

    @extend_schema(
        operation_id="training_jobs_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(TrainingJobOutput),
        tags=["training"],
    )
    def get(self, request):
        paginator = Pagination()
        jobs = selectors.training_job_list(tenant=self.tenant).select_related("model_version")
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(TrainingJobOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={202: TrainingJobOutput}, tags=["training"])
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        job = services.training_request(
            tenant=self.tenant,
            trigger=TrainingJob.Trigger.API,
            fine_tune=data["fine_tune"],
            params=data["params"],
            requested_by=request.user if getattr(request.user, "pk", None) else None,
        )
        return Response(TrainingJobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class TrainingJobDetailApi(TenantApiView):
    required_scope = "train"

    @extend_schema(responses=TrainingJobOutput, tags=["training"])
    def get(self, request, job_id: int):
        job = selectors.training_job_list(tenant=self.tenant).filter(pk=job_id).first()
        if job is None:
            raise NotFound("No such training job.", code="training_job_not_found")
        return Response(TrainingJobOutput(job).data)


class ModelVersionListApi(TenantApiView):
    required_scope = "train"

    @extend_schema(
        operation_id="models_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(ModelVersionOutput),
        tags=["training"],
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.model_version_list(tenant=self.tenant), request, view=self)
        return paginator.get_paginated_response(ModelVersionOutput(page, many=True).data)


class ModelVersionDetailApi(TenantApiView):
    required_scope = "train"

    @extend_schema(responses=ModelVersionOutput, tags=["training"])
    def get(self, request, model_id: int):
        version = selectors.model_version_list(tenant=self.tenant).filter(pk=model_id).first()
        if version is None:
            raise NotFound("No such model version.", code="model_not_found")
        return Response(ModelVersionOutput(version).data)


class ModelVersionActivateApi(TenantApiView):
    required_scope = "train"

    @extend_schema(request=None, responses=ModelVersionOutput, tags=["training"])
    def post(self, request, model_id: int):
        version = services.model_version_activate(tenant=self.tenant, version_id=model_id)
        return Response(ModelVersionOutput(version).data)
