# Shopper segments (ml.segments): Segment, SegmentProfile, ShopperSegment, rules scoped to a segment,
# and the segment a bundle was served to on events and rollups.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cart_recommender', '0004_performance_experiments'),
        migrations.swappable_dependency(settings.CART_RECOMMENDER_PRODUCT_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Segment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('name_edited', models.BooleanField(default=False, help_text='A retrain suggests a fresh name from the profile unless staff named the segment.', verbose_name='named by staff')),
                ('category_cap', models.PositiveSmallIntegerField(blank=True, help_text="At most this many bundle items of one category for this segment's shoppers; empty: the shop's CATEGORY_CAP.", null=True, verbose_name='category cap')),
                ('note', models.TextField(blank=True, default='', verbose_name='note')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
            ],
            options={
                'verbose_name': 'segment',
                'verbose_name_plural': 'segments',
                'ordering': ['pk'],
            },
        ),
        migrations.CreateModel(
            name='SegmentProfile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveSmallIntegerField(default=0, verbose_name='rank by size')),
                ('shoppers', models.PositiveIntegerField(default=0, verbose_name='shoppers')),
                ('profile', models.JSONField(blank=True, default=dict, verbose_name='profile')),
            ],
            options={
                'verbose_name': 'segment profile',
                'verbose_name_plural': 'segment profiles',
                'ordering': ['version', 'position'],
            },
        ),
        migrations.CreateModel(
            name='ShopperSegment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('subject', models.CharField(max_length=64, verbose_name='shopper (keyed hash)')),
            ],
            options={
                'verbose_name': 'shopper segment',
                'verbose_name_plural': 'shopper segments',
            },
        ),
        migrations.RemoveConstraint(
            model_name='bundlerule',
            name='cart_recommender_rule_unique_pair',
        ),
        migrations.AddField(
            model_name='bundleday',
            name='segment',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='shopper segment'),
        ),
        migrations.AddField(
            model_name='event',
            name='segment',
            field=models.PositiveIntegerField(blank=True, help_text='The segment id of the shopper the bundle was served to, as its bundle id says.', null=True, verbose_name='shopper segment'),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='segmentation',
            field=models.JSONField(blank=True, default=dict, help_text='How this run grouped the shoppers: k, the silhouette per k tried, how many shoppers moved segment since the previous run.', verbose_name='segments'),
        ),
        migrations.AddField(
            model_name='productday',
            name='segment',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='shopper segment'),
        ),
        migrations.AddField(
            model_name='bundlerule',
            name='segment',
            field=models.ForeignKey(blank=True, help_text='Empty: the rule holds for every shopper.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='rules', to='cart_recommender.segment', verbose_name='only for segment'),
        ),
        migrations.AddConstraint(
            model_name='bundlerule',
            constraint=models.UniqueConstraint(condition=models.Q(('segment__isnull', True)), fields=('product', 'companion'), name='cart_recommender_rule_unique_pair'),
        ),
        migrations.AddConstraint(
            model_name='bundlerule',
            constraint=models.UniqueConstraint(condition=models.Q(('segment__isnull', False)), fields=('product', 'companion', 'segment'), name='cart_recommender_rule_unique_segment_pair'),
        ),
        migrations.AddField(
            model_name='segmentprofile',
            name='segment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='profiles', to='cart_recommender.segment', verbose_name='segment'),
        ),
        migrations.AddField(
            model_name='segmentprofile',
            name='version',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='segment_profiles', to='cart_recommender.modelversion', verbose_name='model version'),
        ),
        migrations.AddField(
            model_name='shoppersegment',
            name='segment',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.segment'),
        ),
        migrations.AddField(
            model_name='shoppersegment',
            name='version',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='cart_recommender.modelversion'),
        ),
        migrations.AddConstraint(
            model_name='segmentprofile',
            constraint=models.UniqueConstraint(fields=('version', 'segment'), name='cart_recommender_profile_unique'),
        ),
        migrations.AddIndex(
            model_name='shoppersegment',
            index=models.Index(fields=['subject'], name='cr_member_subject'),
        ),
        migrations.AddConstraint(
            model_name='shoppersegment',
            constraint=models.UniqueConstraint(fields=('version', 'subject'), name='cart_recommender_member_unique'),
        ),
    ]
