"""Migration operations of our own."""

from django.db import migrations


class DropKeyIndex(migrations.operations.base.Operation):
    """Drop the index Django made for a foreign key (`db_index=True`) when an
    index of the model's Meta already leads with the key: the database side of
    `db_index=False`, without Django's way of getting there (it drops and adds
    the foreign key constraint again, which checks every row of the table while
    writes wait). Use in SeparateDatabaseAndState beside the AlterField."""

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name, name):
        self.model_name = model_name
        self.name = name

    def deconstruct(self):
        return (self.__class__.__name__, [self.model_name, self.name], {})

    def state_forwards(self, app_label, state):
        pass

    def _model_field(self, app_label, state):
        model = state.apps.get_model(app_label, self.model_name)
        return model, model._meta.get_field(self.name)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model, field = self._model_field(app_label, from_state)
        name = schema_editor._create_index_name(
            model._meta.db_table, [field.column], suffix=""
        )
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model, field = self._model_field(app_label, to_state)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))

    def describe(self):
        return f"Drop the index of {self.model_name}.{self.name}"


def drop_key_indexes(*altered_fields):
    """The AlterFields that set db_index=False on foreign keys (as makemigrations
    writes them), with DropKeyIndex for the database."""
    return migrations.SeparateDatabaseAndState(
        state_operations=list(altered_fields),
        database_operations=[
            DropKeyIndex(a.model_name, a.name) for a in altered_fields
        ],
    )
