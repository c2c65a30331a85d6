from django.contrib import admin

from .models import Room, Topic


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "capacity", "active"]
    list_editable = ["capacity", "active"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "active"]
    list_editable = ["active"]
