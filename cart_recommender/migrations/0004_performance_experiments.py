# The product foreign key follows settings.CART_RECOMMENDER_PRODUCT_MODEL (edited by hand, as in 0001).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cart_recommender', '0003_erasure'),
        migrations.swappable_dependency(settings.CART_RECOMMENDER_PRODUCT_MODEL),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ExperimentShopper',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject', models.CharField(max_length=64, verbose_name='shopper (keyed hash)')),
                ('bundles_shown', models.PositiveIntegerField(default=0)),
                ('bundles_clicked', models.PositiveIntegerField(default=0)),
                ('orders', models.PositiveIntegerField(default=0)),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
                ('attributed_orders', models.PositiveIntegerField(default=0)),
                ('attributed_revenue', models.DecimalField(decimal_places=2, default=0, max_digits=14)),
            ],
            options={
                'verbose_name': 'A/B test shopper',
                'verbose_name_plural': 'A/B test shoppers',
            },
        ),
        migrations.CreateModel(
            name='ProductDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(db_index=True, verbose_name='day')),
                ('served_by', models.CharField(max_length=20, verbose_name='served by')),
                ('scorer', models.CharField(max_length=20, verbose_name='scorer')),
                ('items_shown', models.PositiveIntegerField(default=0, verbose_name='times shown')),
                ('add_to_carts', models.PositiveIntegerField(default=0, verbose_name='add-to-carts')),
                ('units', models.PositiveIntegerField(default=0, verbose_name='units bought')),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='revenue')),
            ],
            options={
                'verbose_name': 'product performance (day)',
                'verbose_name_plural': 'product performance (days)',
            },
        ),
        migrations.CreateModel(
            name='RollupCursor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(default='performance', max_length=32, unique=True)),
                ('last_event_id', models.BigIntegerField(default=0)),
                ('updated_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name': 'rollup cursor',
                'verbose_name_plural': 'rollup cursors',
            },
        ),
        migrations.AddField(
            model_name='event',
            name='bundle_id',
            field=models.CharField(blank=True, default='', max_length=64, verbose_name='bundle'),
        ),
        migrations.AddField(
            model_name='event',
            name='scorer',
            field=models.CharField(blank=True, default='', max_length=20, verbose_name='scorer'),
        ),
        migrations.AddField(
            model_name='event',
            name='served_by',
            field=models.CharField(blank=True, default='', help_text='The model version that chose the bundle, or "baseline".', max_length=20, verbose_name='served by'),
        ),
        migrations.AlterField(
            model_name='event',
            name='event_type',
            field=models.CharField(choices=[('view', 'view'), ('click', 'click'), ('add_to_cart', 'add to cart'), ('remove_from_cart', 'remove from cart'), ('purchase', 'purchase'), ('bundle_impression', 'bundle impression'), ('bundle_click', 'bundle click'), ('refund', 'refund')], max_length=20, verbose_name='event type'),
        ),
        migrations.CreateModel(
            name='Experiment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('status', models.CharField(choices=[('draft', 'draft'), ('running', 'running'), ('stopped', 'stopped')], db_index=True, default='draft', max_length=10, verbose_name='status')),
                ('primary_metric', models.CharField(choices=[('revenue_per_shopper', 'revenue per shopper'), ('attributed_revenue_per_shopper', 'bundle revenue per shopper'), ('conversion', 'conversion (shoppers who order)'), ('ctr', 'bundle click-through rate')], default='revenue_per_shopper', help_text='The metric that decides the winner; the others are shown too.', max_length=40, verbose_name='primary metric')),
                ('min_days', models.PositiveSmallIntegerField(default=14, help_text='No winner is declared before the test has run this long (weekly cycles).', verbose_name='minimum duration (days)')),
                ('note', models.TextField(blank=True, default='', verbose_name='note')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='started')),
                ('stopped_at', models.DateTimeField(blank=True, null=True, verbose_name='stopped')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by')),
                ('started_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='started by')),
                ('stopped_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='stopped by')),
            ],
            options={
                'verbose_name': 'A/B test',
                'verbose_name_plural': 'A/B tests',
                'ordering': ['-created_at', '-pk'],
                'permissions': [('manage_experiment', 'Can start, stop and promote A/B tests')],
            },
        ),
        migrations.CreateModel(
            name='ExperimentArm',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=40, verbose_name='name')),
                ('kind', models.CharField(choices=[('version', 'model version'), ('baseline', 'baseline scorer'), ('holdout', 'no bundle (hold-out)')], default='version', max_length=10, verbose_name='serves')),
                ('scorer', models.CharField(blank=True, choices=[('popularity', 'popularity'), ('copurchase', 'co-purchase counts'), ('personal', "the shopper's own purchases"), ('repeat_decay', 'decayed repeat purchases + co-purchase')], default='', max_length=20, verbose_name='baseline scorer')),
                ('share', models.PositiveSmallIntegerField(default=50, help_text='The shares of all arms add up to 100.', verbose_name='traffic share (%)')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='position')),
                ('experiment', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='arms', to='cart_recommender.experiment', verbose_name='A/B test')),
                ('version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cart_recommender.modelversion', verbose_name='model version')),
            ],
            options={
                'verbose_name': 'arm',
                'verbose_name_plural': 'arms',
                'ordering': ['position', 'pk'],
            },
        ),
        migrations.AddField(
            model_name='experiment',
            name='promoted_arm',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='cart_recommender.experimentarm', verbose_name='promoted arm'),
        ),
        migrations.CreateModel(
            name='BundleDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(db_index=True, verbose_name='day')),
                ('served_by', models.CharField(max_length=20, verbose_name='served by')),
                ('scorer', models.CharField(max_length=20, verbose_name='scorer')),
                ('bundles_shown', models.PositiveIntegerField(default=0, verbose_name='bundles shown')),
                ('items_shown', models.PositiveIntegerField(default=0, verbose_name='items shown')),
                ('bundles_clicked', models.PositiveIntegerField(default=0, verbose_name='bundles clicked')),
                ('clicks', models.PositiveIntegerField(default=0, verbose_name='item clicks')),
                ('add_to_carts', models.PositiveIntegerField(default=0, verbose_name='add-to-carts')),
                ('removals', models.PositiveIntegerField(default=0, verbose_name='removed again')),
                ('orders', models.PositiveIntegerField(default=0, verbose_name='orders with a bundle item')),
                ('units', models.PositiveIntegerField(default=0, verbose_name='units bought')),
                ('revenue', models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='revenue')),
                ('refunded', models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='refunded')),
                ('arm', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.experimentarm', verbose_name='arm')),
            ],
            options={
                'verbose_name': 'bundle performance',
                'verbose_name_plural': 'bundle performance',
                'ordering': ['day', 'served_by', 'scorer'],
            },
        ),
        migrations.AddField(
            model_name='event',
            name='arm',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='cart_recommender.experimentarm', verbose_name='experiment arm'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(condition=models.Q(('arm__isnull', False)), fields=['arm', 'timestamp'], name='cr_event_arm'),
        ),
        migrations.AddField(
            model_name='experimentshopper',
            name='arm',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.experimentarm'),
        ),
        migrations.AddField(
            model_name='experimentshopper',
            name='experiment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.experiment'),
        ),
        migrations.AddField(
            model_name='productday',
            name='arm',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.experimentarm', verbose_name='arm'),
        ),
        migrations.AddField(
            model_name='productday',
            name='product',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.CART_RECOMMENDER_PRODUCT_MODEL, verbose_name='product'),
        ),
        migrations.AddConstraint(
            model_name='experimentarm',
            constraint=models.UniqueConstraint(fields=('experiment', 'name'), name='cart_recommender_arm_name'),
        ),
        migrations.AddConstraint(
            model_name='experiment',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'running')), fields=('status',), name='cart_recommender_one_running_experiment'),
        ),
        migrations.AddIndex(
            model_name='experimentshopper',
            index=models.Index(fields=['subject'], name='cr_expshopper_subject'),
        ),
        migrations.AddConstraint(
            model_name='experimentshopper',
            constraint=models.UniqueConstraint(fields=('experiment', 'subject'), name='cart_recommender_experiment_subject'),
        ),
    ]
